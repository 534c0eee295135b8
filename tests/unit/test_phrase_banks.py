"""Phrase banks: typed slots filled per request, unfillable phrases dropped, filled text checked before
serving; and the element racer's exact probabilities."""

from datetime import date

import numpy as np
import pytest
from creative.phrase_banks import Phrase, PhraseBank, ProductContext, render_candidates, slot_values
from creative.quality.compliance import ComplianceList
from creative.racing.elements import ElementOdds, element_probabilities
from pydantic import ValidationError

PRODUCT = ProductContext(
    name="Trail runner", price=59.9, discount_percent=20, city="Lyon", deadline=date(2026, 12, 24)
)


def bank(*texts: str, slot: str = "phrase") -> PhraseBank:
    return PhraseBank(business_line="shoes", phrases=[Phrase(text=t, slot=slot) for t in texts])


def test_slots_are_typed_and_formatted():
    assert slot_values(PRODUCT) == {
        "price": "$59.90",
        "discount": "20%",
        "city": "Lyon",
        "product": "Trail runner",
        "deadline": "Dec 24",
    }
    assert slot_values(ProductContext(price=1200, currency="EUR"))["price"] == "€1,200"
    assert slot_values(ProductContext(price=5, currency="CHF"))["price"] == "5 CHF"
    assert slot_values(None) == {}


@pytest.mark.parametrize("text", ["Only {prise}!", "{price:.2f} now", "{0} off", "Save {discount!r}"])
def test_unknown_or_formatted_slots_are_refused(text):
    with pytest.raises(ValidationError, match="unknown slot"):
        Phrase(text=text)


def test_phrase_ids_are_derived_and_duplicates_refused():
    first = bank("Only {price}")
    assert first.phrases[0].phrase_id == bank("Only {price}").phrases[0].phrase_id
    assert first.phrases[0].phrase_id != bank("Only {price}", slot="cta").phrases[0].phrase_id
    with pytest.raises(ValidationError, match="twice"):
        bank("Only {price}", "Only {price}")
    with pytest.raises(ValidationError, match="does not match"):
        PhraseBank(business_line="shoes", phrases=[Phrase(phrase_id="ph_0000000000000000", text="x")])


def test_a_phrase_whose_slots_cannot_be_filled_is_no_candidate():
    phrases = bank("Only {price} in {city}", "{discount} off until {deadline}", "Free returns")
    rendered = render_candidates(phrases, "phrase", ProductContext(price=10), max_chars=90, compliance=[])
    assert [r.text for r in rendered] == ["Free returns"]
    full = render_candidates(phrases, "phrase", PRODUCT, max_chars=90, compliance=[])
    assert [r.text for r in full] == ["Only $59.90 in Lyon", "20% off until Dec 24", "Free returns"]
    assert render_candidates(phrases, "cta", PRODUCT, max_chars=90, compliance=[]) == []


def test_filled_text_over_the_limit_or_with_a_banned_claim_is_not_served():
    phrases = bank("Made for {city}", "Best {product} ever")
    banned = [ComplianceList(business_line="shoes", banned_claims=["miracle cure"])]
    hostile = ProductContext(city="Miracle Cure Springs", name="x" * 80)
    assert render_candidates(phrases, "phrase", hostile, max_chars=80, compliance=banned) == []
    fine = render_candidates(phrases, "phrase", PRODUCT, max_chars=80, compliance=banned)
    assert len(fine) == 2


def test_element_probabilities_are_a_distribution_with_the_floor():
    stats = [(0.0, 0.0), (1000.0, 100.0), (1000.0, 10.0)]
    p = element_probabilities(stats, prior_rate=0.02, exploration_floor=0.03)
    assert p.sum() == pytest.approx(1.0) and (p >= 0.01 - 1e-12).all()
    assert p[1] > 0.9  # 10% on 1,000 impressions beats 1% and an unseen phrase at the line's 2%


def test_the_logged_phrase_propensity_is_the_frequency_of_the_choice():
    rendered = render_candidates(
        bank("A {price}", "B {price}", "C"), "phrase", PRODUCT, max_chars=90, compliance=[]
    )
    stats = {rendered[0].phrase_id: (200.0, 10.0), rendered[1].phrase_id: (200.0, 4.0)}
    rng = np.random.default_rng(3)
    odds = ElementOdds.of([p.phrase_id for p in rendered], stats, prior_rate=0.03, exploration_floor=0.05)
    draws = [odds.draw(rng) for _ in range(20000)]
    for index in range(len(rendered)):
        chosen = [propensity for i, propensity in draws if i == index]
        assert len(chosen) / len(draws) == pytest.approx(chosen[0], abs=0.015)
