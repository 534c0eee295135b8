"""The demo's racing settings: a phrase bank and recall rules per business line, saved through the operator
API as an operator would, and the product each line's requests show (what phrase slots are filled from)."""

from __future__ import annotations

from collections import Counter

from creative.phrase_banks import PhraseBank, ProductContext, RenderedPhrase, render_candidates
from creative.placements import phrase_slots_of

PRODUCTS: dict[str, dict] = {
    "travel": {
        "name": "Lisbon city break",
        "price": 349,
        "currency": "EUR",
        "discount_percent": 15,
        "city": "Lisbon",
    },
    "food": {"name": "Cold brew", "price": 4.5, "city": "Austin"},
    "pets": {"name": "Cat tree", "price": 89.99, "discount_percent": 20},
    "motors": {"name": "City scooter", "price": 1899, "city": "Milan", "deadline": "2026-12-24"},
}

PHRASES: list[dict] = [
    {"text": "From {price}"},
    {"text": "{discount} off this week"},
    {"text": "Now in {city}"},
    {"text": "Free returns"},
    {"text": "Offer ends {deadline}"},
    {"text": "Shop now", "slot": "cta"},
    {"text": "See the {product}", "slot": "cta"},
    {"text": "Learn more", "slot": "cta"},
]


def save_racing_settings(api, creatives: list[dict]) -> dict[str, PhraseBank]:
    """Each line's phrase bank, and recall rules that map a user segment to the line's most common tag."""
    banks = {}
    for line in sorted({c["business_line"] for c in creatives}):
        saved = api.operator_call(
            "PUT", f"/v1/phrase-banks/{line}", {"expected_version": 0, "phrases": PHRASES}
        )
        banks[line] = PhraseBank.model_validate(saved)
        tags = Counter(t for c in creatives if c["business_line"] == line for t in c["tags"])
        rules = {"expected_version": 0, "quotas": {"tag": 20, "hot": 10}}
        if tags:
            top_tag = tags.most_common(1)[0][0]
            rules["feature_tags"] = [{"feature": "segment", "value": "enthusiast", "tags": [top_tag]}]
        api.operator_call("PUT", f"/v1/recall-rules/{line}", rules)
    return banks


def servable_phrases(bank: PhraseBank, line: str, placement: str) -> dict[str, list[RenderedPhrase]]:
    """What select may serve in each phrase slot of the placement for the line's product."""
    product = ProductContext.model_validate(PRODUCTS[line])
    return {
        slot: render_candidates(bank, slot, product, max_chars=90, compliance=[])
        for slot in phrase_slots_of(placement)
    }
