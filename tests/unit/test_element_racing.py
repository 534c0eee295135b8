"""Select with recall rules and phrase banks over in-memory stores: what is served, what is logged, and what
a click teaches the phrase racer."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from creative.errors import NotFound
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
    assert impression.exploration_floor == 0.01  # the racer's floor: the timeline's floor share


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


# A line racing elements: images and headlines chosen per element, never stored as combinations.
ELEMENTS = ("template", {"business_line": "food", "racing": "elements"})


def element_world(images: int = 3, headlines: int = 4, *settings: tuple[str, dict]):
    """Creatives pairing image i % images with headline i: every image and headline in at least one."""
    pairs = [
        creative(i).model_copy(
            update={
                "image_material_id": f"mat_img{i % images}",
                "image_key": f"uploads/food/coffee/{i % images}.png",
            }
        )
        for i in range(max(images, headlines))
    ]
    w = racing_world(*pairs, seed=2)
    for name, document in (ELEMENTS, *settings):
        assert w.state.save_setting("food", name, document, expected_version=0)
    return w


def test_a_line_racing_elements_serves_combinations_never_composed_with_the_exact_product_propensity():
    w = element_world(3, 4, (PHRASES_SETTING, BANK.model_dump(mode="json")))
    seen = set()
    for i in range(300):
        served = w.racing.select(ask(product={"price": 4.5}), NOW + timedelta(seconds=i))
        seen.add((served.creative.image_material_id, served.creative.copy_material_id))
        assert served.racing == "elements"
        p = served.element_propensities
        assert set(p) == {"image", "headline", "phrase", "cta"}
        assert served.creative_propensity == pytest.approx(p["image"] * p["headline"])
        assert served.propensity == pytest.approx(np.prod(list(p.values())))
        assert served.candidates == 12
    assert len(seen) == 12  # all 3 × 4, though only 4 creatives were composed
    impression = w.log.items[served.impression_id]
    assert impression.elements["image"] == served.creative.image_material_id
    assert impression.elements["headline"] == served.creative.copy_material_id
    assert impression.learner.state_id == f"elements:food:{served.creative.image_material_id}"
    assert (
        impression.exploration_floor is None
    )  # per slot: the timeline's per-choice floor share does not apply
    assert impression.candidate_ids == []  # the space is never enumerated
    assert served.creative.headline.startswith("Headline ")


def test_fresh_elements_are_drawn_uniformly_and_their_probabilities_sum_to_one():
    w = element_world(3, 5)
    served = w.racing.select(ask(placement="banner"), NOW)
    assert served.element_propensities["image"] == pytest.approx(1 / 3, abs=1e-6)
    assert served.element_propensities["headline"] == pytest.approx(1 / 5, abs=1e-6)


def test_clicks_teach_each_slot_its_best_element_and_count_on_the_lines_element_items():
    w = element_world(2, 3)
    clicks_when = {"mat_img1", "mat_copy2"}  # the image 1 and headline 2 get clicked, nothing else
    for i in range(1500):
        at = NOW + timedelta(seconds=i)
        served = w.racing.select(ask(placement="banner"), at)
        shown = {served.creative.image_material_id, served.creative.copy_material_id}
        if shown & clicks_when and (i % 2 == 0 or shown == clicks_when):
            w.feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)
    late = [w.racing.select(ask(placement="banner"), NOW + timedelta(seconds=2000 + i)) for i in range(200)]
    assert sum(s.creative.image_material_id == "mat_img1" for s in late) > 130  # uniform: 100
    assert sum(s.creative.copy_material_id == "mat_copy2" for s in late) > 110  # uniform: 67
    state = w.state.read("food")
    assert not any(cid.startswith("elements:") for cid in state.creatives)  # it is no creative
    assert any(k.startswith("pn:mat_img1@") for k in state.line)


def test_a_pin_on_a_line_racing_elements_races_whole_creatives_with_the_pinned_one_first():
    rules = RecallRules(business_line="food", pins=[CreativeRule(creative_id="cr_1")])
    w = element_world(3, 4, (RECALL_SETTING, rules.model_dump(mode="json")))
    for i in range(20):
        served = w.racing.select(ask(placement="banner"), NOW + timedelta(seconds=i))
        assert served.racing == "creatives"  # element racing would mix the pinned creatives' elements
        impression = w.log.items[served.impression_id]
        assert impression.candidate_ids[0] == "cr_1" and impression.recall_sources["pin"] == [0]


def two_by_two(*settings: tuple[str, dict]):
    """Every pair of two images and two headlines composed: cr_a (0, 0), cr_b (0, 1), cr_c (1, 0), cr_d (1, 1)."""
    pairs = [
        creative(i).model_copy(
            update={
                "creative_id": f"cr_{name}",
                "image_material_id": f"mat_img{image}",
                "copy_material_id": f"mat_copy{copy}",
            }
        )
        for i, (name, image, copy) in enumerate((("a", 0, 0), ("b", 0, 1), ("c", 1, 0), ("d", 1, 1)))
    ]
    w = racing_world(*pairs, seed=4)
    for name, document in (ELEMENTS, *settings):
        assert w.state.save_setting("food", name, document, expected_version=0)
    return w


@pytest.mark.parametrize("how", ["blocked", "disabled"])
def test_a_pair_blocked_or_disabled_as_a_creative_is_never_served_and_the_others_propensity_says_so(how):
    from creative.creatives import CreativeStatus

    rules = RecallRules(business_line="food", blocks=[CreativeRule(creative_id="cr_d")])
    w = two_by_two((RECALL_SETTING, rules.model_dump(mode="json"))) if how == "blocked" else two_by_two()
    if how == "disabled":
        w.creatives.set_status("cr_d", CreativeStatus.DISABLED, "2026-11-30T00:00:00Z")
    served = [w.racing.select(ask(placement="banner"), NOW + timedelta(seconds=i)) for i in range(300)]
    pairs = {(s.creative.image_material_id, s.creative.copy_material_id) for s in served}
    assert pairs == {("mat_img0", "mat_copy0"), ("mat_img0", "mat_copy1"), ("mat_img1", "mat_copy0")}
    # Fresh elements: each slot 1/2, so each allowed pair (1/4) given that the blocked one (1/4) is not
    # drawn: 1/3. The slots' own draws stay 1/2.
    assert served[0].creative_propensity == pytest.approx(1 / 3, abs=1e-6)
    assert served[0].element_propensities == pytest.approx({"image": 0.5, "headline": 0.5}, abs=1e-6)


def test_a_line_racing_elements_with_everything_blocked_answers_404():
    rules = RecallRules(business_line="food", blocks=[CreativeRule(creative_id=f"cr_{i}") for i in range(4)])
    w = element_world(2, 4, (RECALL_SETTING, rules.model_dump(mode="json")))
    with pytest.raises(NotFound, match="no active creatives"):
        w.racing.select(ask(placement="banner"), NOW)


def test_a_slot_whose_phrases_cannot_be_filled_for_the_request_serves_none():
    bank = PhraseBank(business_line="food", phrases=[Phrase(text="Book by {deadline}", slot="cta")])
    w = world((PHRASES_SETTING, bank.model_dump(mode="json")))
    served = w.racing.select(ask(placement="banner", product={"price": 4.5}), NOW)
    assert served.phrases == [] and served.propensity == served.creative_propensity
