"""What operators read and change: materials with their reasons, creatives with how they are racing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, model_validator

from creative.admission.limits import AdmissionLimits
from creative.creatives import Creative, CreativeStatus
from creative.deferred_model import DeferredModel
from creative.errors import Conflict, InvalidRequest, NotFound
from creative.impressions import BetaPosterior
from creative.materials import Decision, Material, MaterialKind, MaterialStatus, Reason, ReasonCode
from creative.ports import (
    ComplianceStore,
    CreativeRepository,
    ImpressionLog,
    MaterialEvents,
    MaterialRepository,
    ModelRegistry,
    ObjectStore,
    QualityPolicyStore,
    RacingStateStore,
    TagIndex,
)
from creative.quality.compliance import ComplianceList
from creative.quality.policy import LinePolicy, QualityPolicy
from creative.racing.active_model import CTR_MODEL
from creative.racing.racer import RacerConfig
from creative.racing.retraining import RetrainingReport
from creative.racing.state import CounterTotals, Objective
from creative.racing_settings import RacingSettings
from creative.racing_timeline import RacingTimeline, RacingTimelines
from creative.tagging.vocabulary import TagVocabulary
from creative.tags import OPERATOR_SOURCE, TAG_ID_PATTERN, TagLabel, with_labels
from creative.upload_forms import UPLOAD_FORM_TTL_S, UploadForm, UploadRequest, check_size

# Thumbnails in the console: long enough to render a page, short enough that a copied link soon stops working.
THUMBNAIL_URL_TTL_S = 300


class MaterialPage(DeferredModel):
    items: list[Material]
    next_token: str | None = None


class CreativeStats(DeferredModel):
    creative_id: str
    business_line: str
    category: str
    status: CreativeStatus
    headline: str
    image_material_id: str
    copy_material_id: str
    image_key: str
    image_url: str
    tags: list[str] = Field(description="The union of its image's and headline's tags.")
    impressions: int
    clicks: int
    ctr: float | None = Field(description="Observed clicks / impressions; null before the first impression.")
    conversions: int = 0
    conversion_rate: float | None = Field(default=None, description="Conversions / impressions.")
    value: float = Field(default=0.0, description="The summed value of its conversions.")
    value_per_impression: float | None = None
    posterior_mean: float = Field(description="Mean of the arm's Beta posterior (uniform prior).")
    posterior_ci95: tuple[float, float] = Field(
        description="Normal approximation of the 95% credible interval."
    )
    created_at: str
    updated_at: str


class CreativePage(DeferredModel):
    items: list[CreativeStats]
    next_token: str | None = None


class CreativeStatusChange(DeferredModel):
    status: CreativeStatus


class RacingObjective(DeferredModel):
    """What a business line's racer optimises: clicks (`ctr`), conversions (`conversion_rate`), or conversion
    value per impression (`value_per_impression`). Clicks and conversions are counted whatever it is."""

    model_config = ConfigDict(extra="forbid")

    objective: Objective


class LineObjective(RacingObjective):
    business_line: str


TagId = Annotated[str, StringConstraints(pattern=TAG_ID_PATTERN)]


class TagChange(DeferredModel):
    """Tags an operator adds to or removes from one material; each becomes a label the model never undoes."""

    model_config = ConfigDict(extra="forbid")

    add: list[TagId] = Field(default_factory=list, max_length=50)
    remove: list[TagId] = Field(default_factory=list, max_length=50)
    comment: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_way_per_tag(self) -> TagChange:
        both = set(self.add) & set(self.remove)
        if both:
            raise ValueError(f"a tag cannot be both added and removed: {sorted(both)}")
        if not self.add and not self.remove:
            raise ValueError("add or remove at least one tag")
        return self


Phrase = Annotated[str, StringConstraints(min_length=2, max_length=80, strip_whitespace=True)]


class ComplianceChange(DeferredModel):
    """A business line's new compliance list, saved over `expected_version` (what the operator edited)."""

    model_config = ConfigDict(extra="forbid")

    banned_claims: list[Phrase] = Field(default_factory=list, max_length=500)
    regulated: list[Phrase] = Field(default_factory=list, max_length=500)
    competitors: list[Phrase] = Field(default_factory=list, max_length=500)
    expected_version: int = Field(ge=0)


class ComplianceVersions(DeferredModel):
    items: list[ComplianceList]


class ReviewDecision(DeferredModel):
    """An operator admits or rejects a material (a review, or an override of what the checks decided)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["admit", "reject"]
    comment: str = Field(min_length=1, max_length=500)


class PolicyChange(DeferredModel):
    """A business line's threshold overrides, replacing the ones it had. Each key is a field of the quality
    policy; cut-offs are [review at, reject at] pairs, null meaning never."""

    model_config = ConfigDict(extra="forbid")

    overrides: dict[str, Any] = Field(max_length=50)


class QualityPolicyView(DeferredModel):
    business_line: str
    overrides: dict[str, Any]
    effective: QualityPolicy = Field(
        description="The defaults with the overrides applied: what the checks use."
    )
    updated_by: str | None = None
    updated_at: str | None = None


class TaggedMaterialPage(DeferredModel):
    items: list[dict]
    next_token: str | None = None


class TagName(DeferredModel):
    tag: str
    name: str


class TagVocabularyPage(DeferredModel):
    version: str
    items: list[TagName]


class TagLabelRow(DeferredModel):
    """One material's operator labels, with what the heads would be trained on: its text (copy) and its
    effective selling-point tags."""

    material_id: str
    business_line: str
    kind: str | None
    text: str | None
    labels: list[TagLabel]
    tags: list[str]


class TagLabelPage(DeferredModel):
    items: list[TagLabelRow]
    next_token: str | None = None


class MaterialImage(DeferredModel):
    material_id: str
    url: str = Field(description="A presigned GET of the image, valid for `expires_in` seconds.")
    rendition: Literal["served", "original"] = Field(
        description="`served` (upright, without metadata) when admission made one, else the upload itself."
    )
    expires_in: int


class ModelVersion(DeferredModel):
    version: str
    key: str = Field(description="Where the artifact is in the assets bucket.")
    sha256: str
    bytes: int


class RacingModels(DeferredModel):
    """The CTR model select serves (none: the constant prior) and the latest retraining runs, newest first,
    each with its off-policy evaluation and outcome."""

    name: str
    active: ModelVersion | None
    runs: list[RetrainingReport]


class OperatorService:
    def __init__(
        self,
        materials: MaterialRepository,
        creatives: CreativeRepository,
        images: ObjectStore,
        tag_index: TagIndex,
        vocabulary: Callable[[], TagVocabulary],
        compliance: ComplianceStore,
        events: MaterialEvents,
        policies: QualityPolicyStore,
        racing_state: RacingStateStore,
        *,
        image_url_ttl_s: int = 3600,
        uploads_bucket: str | None = None,
        limits: AdmissionLimits | None = None,
        models: ModelRegistry | None = None,
        impressions: ImpressionLog | None = None,
        racer: RacerConfig | None = None,
    ):
        self._models = models  # the CTR model registry (None: this service reports no models)
        # The racing timeline reads the impression log (None: this service draws no timeline).
        self._timelines = RacingTimelines(creatives, impressions) if impressions is not None else None
        self._uploads_bucket = uploads_bucket  # browser uploads go there (None: this service signs none)
        self._limits = limits or AdmissionLimits()
        self._compliance = compliance
        self._policies = policies
        self._racing_state = racing_state
        self._events = events
        self._materials = materials
        self._creatives = creatives
        self._images = images
        self._tag_index = tag_index
        self._vocabulary = vocabulary  # loaded on first use: only the tag routes need the tagger's files
        self._image_url_ttl_s = image_url_ttl_s
        self.racing_settings = RacingSettings(creatives, racing_state, compliance, racer=racer)

    def decide(self, material_id: str, decision: ReviewDecision, *, by: str, now: str) -> Material:
        """Admits or rejects the material, keeping who, when, what and why; the same decision twice in a row
        changes nothing. Model checks run again later never undo it (creative.tagging.service)."""
        wanted = MaterialStatus.ADMITTED if decision.decision == "admit" else MaterialStatus.REJECTED
        for _attempt in range(3):
            material = self.get_material(material_id)
            if (
                material.status is wanted
                and material.decisions
                and material.decisions[-1].to_status is wanted
            ):
                return material
            if material.kind is None:
                raise InvalidRequest(
                    "an object that is not a material (bad key or format) cannot be admitted"
                )
            record = Decision(
                by=by, at=now, from_status=material.status, to_status=wanted, comment=decision.comment
            )
            update = {"status": wanted, "decisions": [*material.decisions, record]}
            if wanted is MaterialStatus.REJECTED:  # the operator's reason joins the checks' reasons
                comment = f"rejected by {by}: {decision.comment}"
                update["reasons"] = [
                    *material.reasons,
                    Reason(code=ReasonCode.OPERATOR_DECISION, detail=comment, verdict="reject"),
                ]
            updated = material.model_copy(update=update)
            stored = self._materials.update(updated, expected_revision=material.revision)
            if stored is not None:
                self._tag_index.replace(
                    stored if wanted is MaterialStatus.ADMITTED else stored.model_copy(update={"tags": []}),
                    material.tag_ids,
                )
                if wanted is MaterialStatus.ADMITTED and stored.tagging is None:
                    self._events.admitted([stored])  # rejected before the model checks: they run now
                return stored
        raise Conflict(f"material '{material_id}' kept changing; retry", code="concurrent_edit")

    def compliance(self, business_line: str) -> ComplianceList:
        return self._compliance.current(business_line)

    def save_compliance(
        self, business_line: str, change: ComplianceChange, *, by: str, now: str
    ) -> ComplianceList:
        listing = ComplianceList(
            business_line=business_line,
            banned_claims=sorted(set(change.banned_claims)),
            regulated=sorted(set(change.regulated)),
            competitors=sorted(set(change.competitors)),
            updated_by=by,
            updated_at=now,
        )
        saved = self._compliance.replace(listing, expected_version=change.expected_version)
        if saved is None:
            current = self._compliance.current(business_line).version
            raise Conflict(
                f"the list is at version {current}, not {change.expected_version}: reload it and edit again",
                code="version_conflict",
                details={"current_version": current},
            )
        return saved

    def compliance_versions(self, business_line: str) -> ComplianceVersions:
        return ComplianceVersions(items=self._compliance.versions(business_line))

    def racing_objective(self, business_line: str) -> LineObjective:
        return LineObjective(
            business_line=business_line, objective=self._racing_state.read(business_line).objective
        )

    def set_racing_objective(self, business_line: str, change: RacingObjective) -> LineObjective:
        """Select picks it up within its cache period; the learner's evidence for the previous objective
        stays and is corrected by the new one's events."""
        self._racing_state.set_objective(business_line, change.objective)
        return LineObjective(business_line=business_line, objective=change.objective)

    def quality_policy(self, business_line: str) -> QualityPolicyView:
        line_policy = self._policies.overrides(business_line)
        return QualityPolicyView(**line_policy.model_dump(), effective=self._policies.policy(business_line))

    def save_quality_policy(
        self, business_line: str, change: PolicyChange, *, by: str, now: str
    ) -> QualityPolicyView:
        """Replaces the line's overrides; materials judged from now on use them (nothing is re-judged)."""
        try:
            line_policy = LinePolicy(
                business_line=business_line, overrides=change.overrides, updated_by=by, updated_at=now
            )
        except ValidationError as exc:
            raise InvalidRequest(
                exc.errors()[0]["msg"].removeprefix("Value error, "), code="invalid_policy"
            ) from None
        self._policies.save(line_policy)
        return self.quality_policy(business_line)

    def change_tags(self, material_id: str, change: TagChange, *, by: str, now: str) -> Material:
        """Records the operator's labels and applies them; a change already in effect (a double submit)
        writes nothing. Retries a write that lost to a concurrent edit (tagging, another operator)."""
        vocabulary = self._vocabulary()
        unknown = sorted(t for t in [*change.add, *change.remove] if t not in vocabulary)
        if unknown:
            raise InvalidRequest(
                f"unknown tags: {', '.join(unknown)}",
                code="unknown_tag",
                details={"tags": ", ".join(unknown)},
            )
        for _attempt in range(3):
            material = self.get_material(material_id)
            latest = {
                label.tag: label.present for label in sorted(material.tag_labels, key=lambda label: label.at)
            }
            wanted = {**{t: True for t in change.add}, **{t: False for t in change.remove}}
            new = [
                TagLabel(tag=tag, present=present, by=by, at=now, comment=change.comment)
                for tag, present in wanted.items()
                if latest.get(tag, tag in material.tag_ids) != present
            ]
            if not new:
                return material
            labels = material.tag_labels + new
            model_tags = [t for t in material.tags if t.source != OPERATOR_SOURCE]
            updated = material.model_copy(
                update={"tag_labels": labels, "tags": with_labels(model_tags, labels, vocabulary.names)}
            )
            stored = self._materials.update(updated, expected_revision=material.revision)
            if stored is not None:
                if stored.status is MaterialStatus.ADMITTED:
                    self._tag_index.replace(stored, material.tag_ids)
                return stored
        raise Conflict(f"material '{material_id}' kept changing; retry", code="concurrent_edit")

    def tagged_materials(
        self, business_line: str, tag: str, *, limit: int, next_token: str | None
    ) -> TaggedMaterialPage:
        page = self._tag_index.materials(business_line, tag, limit=limit, next_token=next_token)
        return TaggedMaterialPage(items=[asdict(entry) for entry in page.items], next_token=page.next_token)

    def vocabulary(self) -> TagVocabularyPage:
        vocabulary = self._vocabulary()
        return TagVocabularyPage(
            version=vocabulary.version,
            items=[TagName(tag=tag, name=name) for tag, name in sorted(vocabulary.names.items())],
        )

    def tag_labels(self, *, limit: int, next_token: str | None) -> TagLabelPage:
        page = self._materials.labelled(limit=limit, next_token=next_token)
        return TagLabelPage(
            items=[
                TagLabelRow(
                    material_id=m.material_id,
                    business_line=m.business_line,
                    kind=m.kind.value if m.kind else None,
                    text=m.text,
                    labels=m.tag_labels,
                    tags=m.tag_ids,
                )
                for m in page.items
            ],
            next_token=page.next_token,
        )

    def list_materials(
        self,
        *,
        business_line: str | None,
        status: MaterialStatus | None,
        limit: int,
        next_token: str | None,
        content_hash: str | None = None,
    ) -> MaterialPage:
        page = self._materials.list(
            business_line=business_line,
            status=status,
            limit=limit,
            next_token=next_token,
            content_hash=content_hash,
        )
        return MaterialPage(items=page.items, next_token=page.next_token)

    def get_material(self, material_id: str) -> Material:
        material = self._materials.get(material_id)
        if material is None:
            raise NotFound(f"material '{material_id}' does not exist", code="unknown_material")
        return material

    def material_image(self, material_id: str) -> MaterialImage:
        """A short-lived URL of the material's image: the served rendition when there is one (what users
        see), else the upload (a rejected image has no rendition, and the operator must still see it)."""
        material = self.get_material(material_id)
        if material.kind is not MaterialKind.IMAGE:
            raise NotFound(f"material '{material_id}' is not an image", code="not_an_image")
        if material.served is not None:
            source, rendition = material.served, "served"
        elif material.image is not None and self._safe_to_show(material):
            source, rendition = material.source, "original"
        else:  # never decoded, or past the pixel cap (a decompression bomb): not for an operator's browser
            raise NotFound(
                f"material '{material_id}' has no image that is safe to show: admission could not read it",
                code="no_safe_image",
            )
        url = self._images.presigned_url(source.bucket, source.key, source.version_id, THUMBNAIL_URL_TTL_S)
        return MaterialImage(
            material_id=material_id, url=url, rendition=rendition, expires_in=THUMBNAIL_URL_TTL_S
        )

    def _safe_to_show(self, material: Material) -> bool:
        facts = material.image
        return facts is not None and facts.width * facts.height <= self._limits.max_image_pixels

    def upload_form(self, request: UploadRequest) -> UploadForm:
        """A presigned POST of exactly one key under the uploads prefix: admission runs on it as on any
        upload. The same request twice gets a fresh form for the same key (a second upload replaces the
        first as a new object version)."""
        if self._uploads_bucket is None:
            raise InvalidRequest("this deployment signs no browser uploads", code="uploads_disabled")
        max_bytes = check_size(request, self._limits)
        form = self._images.presigned_post(
            self._uploads_bucket, request.key, request.content_type, max_bytes, UPLOAD_FORM_TTL_S
        )
        return UploadForm(
            url=form.url,
            fields=form.fields,
            key=request.key,
            max_bytes=max_bytes,
            expires_in=UPLOAD_FORM_TTL_S,
        )

    def racing_models(self, *, limit: int) -> RacingModels:
        if self._models is None:
            return RacingModels(name=CTR_MODEL, active=None, runs=[])
        active = self._models.active(CTR_MODEL)
        return RacingModels(
            name=CTR_MODEL,
            active=ModelVersion(
                version=active.version, key=active.key, sha256=active.sha256, bytes=active.bytes
            )
            if active
            else None,
            runs=[RetrainingReport.model_validate(run) for run in self._models.runs(CTR_MODEL, limit)],
        )

    def racing_timeline(
        self, business_line: str, hours: int, *, now: datetime, creative_id: str | None = None
    ) -> RacingTimeline:
        if self._timelines is None:
            raise InvalidRequest("this deployment reads no impressions", code="timeline_disabled")
        return self._timelines.timeline(business_line, hours, now=now, creative_id=creative_id)

    def list_creatives(
        self, *, business_line: str | None, limit: int, next_token: str | None
    ) -> CreativePage:
        page = self._creatives.list(business_line=business_line, limit=limit, next_token=next_token)
        totals = self._racing_state.totals([c.creative_id for c in page.items])
        return CreativePage(
            items=[self.stats(c, totals.get(c.creative_id)) for c in page.items], next_token=page.next_token
        )

    def set_creative_status(
        self, creative_id: str, change: CreativeStatusChange, *, now: str
    ) -> CreativeStats:
        creative = self._creatives.set_status(creative_id, change.status, now)
        if creative is None:
            raise NotFound(f"creative '{creative_id}' does not exist", code="unknown_creative")
        return self.stats(creative, self._racing_state.totals([creative_id]).get(creative_id))

    def stats(self, creative: Creative, totals: CounterTotals | None) -> CreativeStats:
        totals = totals or CounterTotals()
        posterior = BetaPosterior.of(totals.impressions, totals.clicks)
        return CreativeStats(
            creative_id=creative.creative_id,
            business_line=creative.business_line,
            category=creative.category,
            status=creative.status,
            headline=creative.headline,
            image_material_id=creative.image_material_id,
            copy_material_id=creative.copy_material_id,
            image_key=creative.image_key,
            image_url=self._images.presigned_url(
                creative.image_bucket, creative.image_key, creative.image_version_id, self._image_url_ttl_s
            ),
            tags=creative.tags,
            impressions=totals.impressions,
            clicks=totals.clicks,
            ctr=totals.clicks / totals.impressions if totals.impressions else None,
            conversions=totals.conversions,
            conversion_rate=totals.conversions / totals.impressions if totals.impressions else None,
            value=totals.value,
            value_per_impression=totals.value / totals.impressions if totals.impressions else None,
            posterior_mean=posterior.mean,
            posterior_ci95=posterior.interval95(),
            created_at=creative.created_at,
            updated_at=creative.updated_at,
        )
