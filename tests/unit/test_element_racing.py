"""Select with recall rules and phrase banks over in-memory stores: what is served, what is logged, and what
a click teaches the phrase racer."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from creative.phrase_banks import Phrase, PhraseBank
from creative.racing.schemas import FeedbackRequest, RequestContext, SelectRequest, UserContext
from creative.racing.service import PHRASES_SETTING, RECALL_SETTING
from creative.recall.rules import CreativeRule, RecallRules

from tests.factories import creative, racing_world

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
BANK = PhraseBank(
    business_line="food",
    phrases=[
        Phrase(text="Only {price} today"),
        Phrase(text="{discount} off in {city}"),
        Phrase(text="Fresh every morning"),
        Phrase(text="Order now", slot="cta"),
        Phrase(text="Book by {deadline}", slot="cta"),
    ],
)


def world(*settings: tuple[str, dict], n: int = 4):
    w = racing_world(*[creative(i) for i in range(n)], seed=1)
    for name, document in settings:
        assert w.state.save_setting("food", name, document, expected_version=0)
    return w


def ask(placement: str = "home_feed", product: dict | None = None, **context) -> SelectRequest:
    return SelectRequest(
        business_line="food",
        placement=placement,
        user=UserContext(id="u1", features={"segment": "a"}),
        context=RequestContext(product=product, **context) if product is not None or context else None,
    )


def test_a_feed_request_gets_a_filled_phrase_and_cta_with_the_combination_propensity():
    w = world((PHRASES_SETTING, BANK.model_dump(mode="json")))
    served = w.racing.select(ask(product={"price": 4.5}), NOW)
    slots = {p.slot: p for p in served.phrases}
    assert set(slots) == {"phrase", "cta"}
    assert slots["phrase"].text in {"Only $4.50 today", "Fresh every morning"}  # no discount or city given
    assert slots["cta"].text == "Order now"  # no deadline given
    assert slots["cta"].propensity == 1.0
    expected = served.creative_propensity * slots["phrase"].propensity * slots["cta"].propensity
    assert served.propensity == pytest.approx(expected)
    impression = w.log.items[served.impression_id]
    assert impression.elements == {"phrase": slots["phrase"].phrase_id, "cta": slots["cta"].phrase_id}
    assert impression.combination_propensity == pytest.approx(expected)
    assert impression.propensity == served.creative_propensity
    assert impression.recall_sources == {"business_line": [0, 1, 2, 3]}


def test_placements_without_phrase_slots_or_a_line_without_a_bank_serve_none():
    with_bank = world((PHRASES_SETTING, BANK.model_dump(mode="json")))
    assert [p.slot for p in with_bank.racing.select(ask("banner", product={}), NOW).phrases] == ["cta"]
    assert with_bank.racing.select(ask("sidebar", product={"price": 1}), NOW).phrases == []
    plain = world().racing.select(ask(), NOW)
    assert plain.phrases == [] and plain.propensity == plain.creative_propensity


def test_clicks_teach_the_phrase_racer_which_phrase_wins():
    w = world((PHRASES_SETTING, BANK.model_dump(mode="json")))
    rng = np.random.default_rng(0)
    chosen = []
    for i in range(1500):
        at = NOW + timedelta(seconds=i)
        served = w.racing.select(ask(product={"price": 4.5}), at)
        phrase = next(p for p in served.phrases if p.slot == "phrase")
        rate = 0.12 if phrase.text.startswith("Only") else 0.02
        if rng.random() < rate:
            w.feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)
        chosen.append(phrase.text)
    late = chosen[-500:]
    assert late.count("Only $4.50 today") / len(late) > 0.8
    # The phrase's statistics are the line's: written on the creatives' items, summed on read
    line = w.state.read("food").line
    assert any(name.startswith("pc:") for name in line) and any(name.startswith("pn:") for name in line)


def test_pins_come_first_and_blocked_creatives_are_never_served():
    rules = RecallRules(
        business_line="food",
        pins=[CreativeRule(creative_id="cr_0", placements=["home_feed"])],
        blocks=[CreativeRule(creative_id="cr_1")],
    )
    w = world((RECALL_SETTING, rules.model_dump(mode="json")))
    served = [w.racing.select(ask(), NOW + timedelta(seconds=i)) for i in range(200)]
    assert "cr_1" not in {s.creative.creative_id for s in served}
    impression = w.log.items[served[0].impression_id]
    assert impression.candidate_ids[0] == "cr_0" and impression.recall_sources["pin"] == [0]
    assert "cr_1" not in impression.candidate_ids
    pinned = [s for s in served if s.creative.creative_id == "cr_0"]
    assert pinned and all("pin" in s.recall for s in pinned)


def test_a_line_that_blocks_everything_answers_404_with_the_reason():
    rules = RecallRules(business_line="food", blocks=[CreativeRule(creative_id=f"cr_{i}") for i in range(2)])
    w = world((RECALL_SETTING, rules.model_dump(mode="json")), n=2)
    from creative.errors import NotFound

    with pytest.raises(NotFound, match="blocks every creative"):
        w.racing.select(ask(), NOW)
