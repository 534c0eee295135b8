"""What operators set for a line's racing beyond its objective: recall rules, the phrase bank and the template
(each saved whole, versioned, read by select with the line's racing state), and the per-asset labels read
back from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import ConfigDict, Field

from creative.creatives import Creative, CreativeStatus
from creative.deferred_model import DeferredModel
from creative.errors import Conflict, InvalidRequest
from creative.labels import AssetEvidence, AssetPerformance, label_assets
from creative.line_templates import TEMPLATE_SETTING, LineTemplate, LineTemplateChange
from creative.phrase_banks import (
    Phrase,
    PhraseBank,
    PhraseSlot,
    ProductContext,
    servable_text,
    slot_values,
    template_slots,
)
from creative.ports import ComplianceStore, CreativeRepository, RacingStateStore
from creative.quality.compliance import ALL_LINES, ComplianceList
from creative.racing.learner import ELEMENT_TAG, Decay, LearnerConfig, tag_effect
from creative.racing.racer import RacerConfig
from creative.racing.service import (
    PHRASES_SETTING,
    RECALL_SETTING,
    LineView,
    element_tag,
    phrase_bank_of,
    recall_rules_of,
    template_of,
)
from creative.racing.state import POSITIVE_EVENT
from creative.recall.rules import CreativeRule, FeatureTags, Quotas, RecallRules


class RecallRulesChange(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=0, description="The version being replaced (0 for a line with none).")
    pins: list[CreativeRule] = Field(default_factory=list, max_length=100)
    blocks: list[CreativeRule] = Field(default_factory=list, max_length=500)
    schedules: list[CreativeRule] = Field(default_factory=list, max_length=500)
    feature_tags: list[FeatureTags] = Field(default_factory=list, max_length=200)
    quotas: Quotas = Field(default_factory=Quotas)


class PhraseBankChange(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=0)
    phrases: list[Phrase] = Field(default_factory=list, max_length=200)


class PhrasePreviewRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    product: ProductContext | None = None


class PhrasePreview(DeferredModel):
    phrase_id: str
    slot: PhraseSlot
    template: str
    text: str | None = Field(description="Filled from the product; None when a slot has no value.")
    servable: bool
    reason: str | None = Field(description="Why it would not be served for this product.")


class PhrasePreviewPage(DeferredModel):
    business_line: str
    items: list[PhrasePreview]


class AssetLabelPage(DeferredModel):
    business_line: str
    objective: str
    items: list[AssetPerformance]


class RacingSettings:
    def __init__(
        self,
        creatives: CreativeRepository,
        racing_state: RacingStateStore,
        compliance: ComplianceStore,
        *,
        max_phrase_chars: int = 90,
        racer: RacerConfig | None = None,
    ):
        self._creatives = creatives
        self._state = racing_state
        self._compliance = compliance
        self._max_phrase_chars = max_phrase_chars
        racer = racer or RacerConfig()  # the racer select runs: labels weigh evidence as it does
        self._decay = Decay(racer.half_life_hours * 3600.0)
        self._learner = racer.learner

    def recall_rules(self, business_line: str) -> RecallRules:
        return recall_rules_of(self._state.read(business_line))

    def save_recall_rules(
        self, business_line: str, change: RecallRulesChange, *, by: str, now: str
    ) -> RecallRules:
        """Every pinned or scheduled creative must be an active creative of this line, every blocked one a
        creative of this line; nothing is stored otherwise."""
        try:
            rules = RecallRules(
                business_line=business_line,
                **change.model_dump(exclude={"expected_version"}),
                updated_by=by,
                updated_at=now,
            )
        except ValueError as bad:
            raise InvalidRequest(_first_error(bad), code="invalid_recall_rules") from None
        line = {c.creative_id: c for c in self._creatives.for_business_line(business_line)}
        for kind, needs_active in (("pins", True), ("schedules", True), ("blocks", False)):
            for rule in getattr(rules, kind):
                creative = line.get(rule.creative_id)
                if creative is None:
                    raise InvalidRequest(
                        f"{kind}: {rule.creative_id} is not a creative of '{business_line}'",
                        code="unknown_creative",
                    )
                if needs_active and creative.status is not CreativeStatus.ACTIVE:
                    raise InvalidRequest(
                        f"{kind}: {rule.creative_id} is {creative.status.value}; enable it first",
                        code="creative_not_active",
                    )
        self._save(business_line, RECALL_SETTING, rules.model_dump(mode="json"), change.expected_version)
        return rules.model_copy(update={"version": change.expected_version + 1})

    def template(self, business_line: str) -> LineTemplate:
        return template_of(self._state.read(business_line))

    def save_template(
        self, business_line: str, change: LineTemplateChange, *, by: str, now: str
    ) -> LineTemplate:
        template = LineTemplate(
            business_line=business_line, racing=change.racing, updated_by=by, updated_at=now
        )
        self._save(business_line, TEMPLATE_SETTING, template.model_dump(mode="json"), change.expected_version)
        return template.model_copy(update={"version": change.expected_version + 1})

    def phrase_bank(self, business_line: str) -> PhraseBank:
        return phrase_bank_of(self._state.read(business_line)) or PhraseBank(business_line=business_line)

    def save_phrase_bank(
        self, business_line: str, change: PhraseBankChange, *, by: str, now: str
    ) -> PhraseBank:
        """A phrase whose own words are over the length limit or carry a banned claim is refused with the
        reason (its slots' values are checked per request, when filled)."""
        try:
            bank = PhraseBank(
                business_line=business_line, phrases=change.phrases, updated_by=by, updated_at=now
            )
        except ValueError as bad:
            raise InvalidRequest(_first_error(bad), code="invalid_phrase_bank") from None
        lists = self._lists(business_line)
        for phrase in bank.phrases:
            words = phrase.text
            for name in template_slots(phrase.text):
                words = words.replace("{" + name + "}", "")
            reason = servable_text(
                " ".join(words.split()), max_chars=self._max_phrase_chars, compliance=lists
            )
            if reason:
                raise InvalidRequest(f"phrase '{phrase.text}': {reason}", code="phrase_not_servable")
        self._save(business_line, PHRASES_SETTING, bank.model_dump(mode="json"), change.expected_version)
        return bank.model_copy(update={"version": change.expected_version + 1})

    def preview(self, business_line: str, request: PhrasePreviewRequest) -> PhrasePreviewPage:
        """Each phrase of the bank as select would fill it for this product, and why it would not serve."""
        bank, lists, values = (
            self.phrase_bank(business_line),
            self._lists(business_line),
            slot_values(request.product),
        )
        items = []
        for phrase in bank.phrases:
            text = phrase.fill(values)
            missing = [name for name in phrase.slots if name not in values]
            reason = (
                f"no value for {', '.join('{' + m + '}' for m in missing)}"
                if text is None
                else servable_text(text, max_chars=self._max_phrase_chars, compliance=lists)
            )
            if reason is None and phrase.status.value != "ACTIVE":
                reason = "disabled"
            items.append(
                PhrasePreview(
                    phrase_id=phrase.phrase_id or "",
                    slot=phrase.slot,
                    template=phrase.text,
                    text=text,
                    servable=reason is None,
                    reason=reason,
                )
            )
        return PhrasePreviewPage(business_line=business_line, items=items)

    def asset_labels(self, business_line: str, now: datetime) -> AssetLabelPage:
        state = self._state.read(business_line)
        view = LineView.of(state, self._decay.scales(now.timestamp()))
        creatives = [
            c for c in self._creatives.for_business_line(business_line) if c.status is CreativeStatus.ACTIVE
        ]
        lifetime_event = "clicks" if POSITIVE_EVENT[state.objective] == "click" else "conversions"
        evidence = _element_evidence(creatives, view, lifetime_event, self._learner)
        for phrase in view.phrase_bank.phrases if view.phrase_bank else []:
            n, positives = view.elements.get(phrase.phrase_id or "", (0.0, 0.0))
            evidence.append(AssetEvidence(phrase.slot, phrase.phrase_id or "", phrase.text, n, positives))
        return AssetLabelPage(
            business_line=business_line, objective=state.objective, items=label_assets(evidence)
        )

    def _lists(self, business_line: str) -> list[ComplianceList]:
        return [self._compliance.current(business_line), self._compliance.current(ALL_LINES)]

    def _save(self, business_line: str, name: str, document: dict, expected_version: int) -> None:
        if not self._state.save_setting(business_line, name, document, expected_version=expected_version):
            raise Conflict(
                f"the {name} of '{business_line}' changed since version {expected_version}: reload and edit again",
                code="version_conflict",
            )


def _element_evidence(
    creatives: Sequence[Creative], view: LineView, lifetime_event: str, learner: LearnerConfig
) -> list[AssetEvidence]:
    """Creatives as they are, and images and headlines with the sums over the creatives that showed them
    plus their own counts as elements (a line racing elements counts those only)."""
    evidence = []
    sums: dict[tuple[str, str], list] = {}
    for creative in creatives:
        n, positives = view.recent.get(creative.creative_id, (0.0, 0.0))
        totals = view.totals.get(creative.creative_id)
        life_n = float(totals.impressions) if totals else 0.0
        life_p = float(getattr(totals, lifetime_event)) if totals else 0.0
        evidence.append(
            AssetEvidence(
                "creative",
                creative.creative_id,
                creative.headline,
                n,
                positives,
                life_n,
                life_p,
                tuple(creative.tags),
                _effects(creative.tags, view, learner),
            )
        )
        for slot, asset_id, name in (
            ("image", creative.image_material_id, creative.image_key.rsplit("/", 1)[-1]),
            ("headline", creative.copy_material_id, creative.headline),
        ):
            tags = (element_tag(asset_id), *creative.element_tags.get(slot, ()))
            row = sums.setdefault((slot, asset_id), [name, 0.0, 0.0, 0.0, 0.0, tags])
            row[1] += n
            row[2] += positives
            row[3] += life_n
            row[4] += life_p
    for (slot, asset_id), (name, n, positives, life_n, life_p, tags) in sums.items():
        own_n, own_positives = view.elements.get(asset_id, (0.0, 0.0))
        evidence.append(
            AssetEvidence(
                slot,
                asset_id,
                name,
                n + own_n,
                positives + own_positives,
                life_n,
                life_p,
                tuple(tags[1:]),
                _effects(tags, view, learner),
            )
        )
    return evidence


def _effects(
    tags: Sequence[str], view: LineView, learner: LearnerConfig
) -> tuple[tuple[str, float, float], ...]:
    """What the online learner has learned each tag is worth on the line (an element's own tag only once
    it has evidence: it is learned only where the line races elements)."""
    effects = []
    for tag in tags:
        weight, sd = tag_effect(view.line, tag, learner)
        if not tag.startswith(ELEMENT_TAG) or weight:
            effects.append((tag, weight, sd))
    return tuple(effects)


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(error)
