"""Dynamic phrase banks: operator phrases with typed slots, filled per request.

A phrase is a template such as "Only {price} in {city}" or "{discount} off until {deadline}". Its slots are
typed: `{price}` and `{discount}` are numbers the request's product context carries and this module formats,
`{city}` and `{product}` are text, `{deadline}` a date. A phrase whose slots the request cannot fill is no
candidate for that request, and a filled phrase is checked against admission's length limit and the line's
banned claims before it may be served (a city or product name comes from the caller).

Phrases fill the `phrase` and `cta` (call to action) slots a placement declares (`creative.placements`);
each is raced like any element, on its own statistics.
"""

from __future__ import annotations

import hashlib
import re
import string
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from creative.deferred_model import DeferredModel
from creative.quality.compliance import ComplianceList, compliance_findings
from creative.quality.verdicts import Verdict

SLOT_NAMES = ("price", "discount", "city", "deadline", "product")
PhraseSlot = Literal["phrase", "cta"]  # the creative slots phrases fill
_FIELD = re.compile(r"\{([^{}]*)\}")


class PhraseStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class ProductContext(DeferredModel):
    """What a request says about the product on show: the values phrase slots are filled from."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=80)
    price: float | None = Field(default=None, ge=0, le=1e7, allow_inf_nan=False)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    discount_percent: float | None = Field(default=None, gt=0, lt=100, allow_inf_nan=False)
    city: str | None = Field(default=None, min_length=1, max_length=60)
    deadline: date | None = None


_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥"}


def slot_values(product: ProductContext | None) -> dict[str, str]:
    """Each slot the product can fill, formatted for display."""
    if product is None:
        return {}
    values: dict[str, str] = {}
    if product.price is not None:
        sign = _CURRENCY_SIGNS.get(product.currency)
        amount = f"{product.price:,.0f}" if product.price.is_integer() else f"{product.price:,.2f}"
        values["price"] = f"{sign}{amount}" if sign else f"{amount} {product.currency}"
    if product.discount_percent is not None:
        values["discount"] = f"{product.discount_percent:g}%"
    if product.city:
        values["city"] = product.city
    if product.name:
        values["product"] = product.name
    if product.deadline:
        values["deadline"] = f"{product.deadline:%b} {product.deadline.day}"
    return values


def template_slots(text: str) -> list[str]:
    """The slot names a template uses, in order; raises ValueError on an unknown or malformed one."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion or name not in SLOT_NAMES:
            raise ValueError(f"unknown slot '{{{name}}}': slots are {', '.join(SLOT_NAMES)}")
        names.append(name)
    return names


def phrase_id_for(business_line: str, slot: str, text: str) -> str:
    """Deterministic: the same template in the same slot of a line is the same phrase (and its statistics)."""
    return "ph_" + hashlib.sha256(f"{business_line}|{slot}|{text}".encode()).hexdigest()[:16]


class Phrase(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    phrase_id: str | None = Field(default=None, pattern=r"^ph_[0-9a-f]{16}$")
    slot: PhraseSlot = "phrase"
    text: str = Field(min_length=1, max_length=200)
    status: PhraseStatus = PhraseStatus.ACTIVE

    @field_validator("text")
    @classmethod
    def _known_slots(cls, text: str) -> str:
        try:
            template_slots(text)
        except ValueError as bad:
            raise ValueError(str(bad)) from None
        return text.strip()

    @property
    def slots(self) -> list[str]:
        return template_slots(self.text)

    def fill(self, values: dict[str, str]) -> str | None:
        """The rendered text, or None when a slot has no value for this request."""
        if any(name not in values for name in self.slots):
            return None
        return self.text.format(**{name: values[name] for name in self.slots})


class PhraseBank(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    business_line: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    version: int = Field(default=0, ge=0)
    phrases: list[Phrase] = Field(default_factory=list, max_length=200)
    updated_by: str | None = None
    updated_at: str | None = None

    @model_validator(mode="after")
    def _ids(self) -> PhraseBank:
        seen: set[str] = set()
        for phrase in self.phrases:
            expected = phrase_id_for(self.business_line, phrase.slot, phrase.text)
            if phrase.phrase_id not in (None, expected):
                raise ValueError(
                    f"phrase_id {phrase.phrase_id} does not match its text; omit it to derive it"
                )
            phrase.phrase_id = expected
            if expected in seen:
                raise ValueError(f"the phrase '{phrase.text}' appears twice in the {phrase.slot} slot")
            seen.add(expected)
        return self

    def active(self, slot: str) -> list[Phrase]:
        return [p for p in self.phrases if p.slot == slot and p.status is PhraseStatus.ACTIVE]


class RenderedPhrase(DeferredModel):
    phrase_id: str
    slot: PhraseSlot
    text: str


def servable_text(text: str, *, max_chars: int, compliance: list[ComplianceList]) -> str | None:
    """Why a rendered phrase may not be served (too long, a banned claim), or None when it may."""
    if len(text) > max_chars:
        return f"{len(text)} characters, over the limit of {max_chars}"
    if not any(listing.banned_claims for listing in compliance):
        return None
    rejected = [f.detail for f in compliance_findings(text, compliance) if f.verdict is Verdict.REJECT]
    return rejected[0] if rejected else None


def render_candidates(
    bank: PhraseBank | None,
    slot: str,
    product: ProductContext | None,
    *,
    max_chars: int,
    compliance: list[ComplianceList],
) -> list[RenderedPhrase]:
    """The phrases of a slot this request can be served: active, every slot filled, the text servable."""
    if bank is None:
        return []
    values = slot_values(product)
    rendered = []
    for phrase in bank.active(slot):
        text = phrase.fill(values)
        if text is not None and servable_text(text, max_chars=max_chars, compliance=compliance) is None:
            rendered.append(RenderedPhrase(phrase_id=phrase.phrase_id or "", slot=phrase.slot, text=text))
    return rendered
