"""Recall: each strategy on its own, their merge under quotas, and the rules' own validation."""

from datetime import UTC, datetime, timedelta

import pytest
from creative.recall import strategies
from creative.recall.candidates import BUSINESS_LINE, HOT, PIN, TAG, RecallRequest, recall, recall_key
from creative.recall.rules import CreativeRule, FeatureTags, Quotas, RecallRules
from pydantic import ValidationError

from tests.factories import creative

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def pool(n: int = 10):
    """cr_0 is the oldest; odd creatives carry selling:gift, every third iab:210."""
    out = []
    for i in range(n):
        tags = (["selling:gift"] if i % 2 else []) + (["iab:210"] if i % 3 == 0 else [])
        out.append(creative(i, tags=tags))
    return out


def rules(**kw) -> RecallRules:
    return RecallRules(business_line="food", **kw)


def request(at_offset: timedelta = timedelta(0), **kw) -> RecallRequest:
    placement = kw.pop("placement", "home_feed")
    return RecallRequest(business_line="food", placement=placement, at=NOW + at_offset, **kw)


def test_business_line_recall_is_newest_first():
    assert [c.creative_id for c in strategies.newest(pool(3))] == ["cr_2", "cr_1", "cr_0"]


def test_tag_recall_ranks_by_shared_tags_and_category():
    creatives = pool(7)
    ranked = strategies.by_tag(creatives, {"selling:gift", "iab:210"}, None)
    # cr_3 has both tags; then single matches newest first; cr_2 and cr_4 share nothing
    assert ranked[0].creative_id == "cr_3"
    assert {c.creative_id for c in ranked} == {"cr_0", "cr_1", "cr_3", "cr_5", "cr_6"}
    assert strategies.by_tag(creatives, set(), None) == []
    assert len(strategies.by_tag(creatives, set(), "coffee")) == 7  # the factory's category


def test_hot_recall_ranks_by_shrunk_recent_rate_and_skips_the_unseen():
    creatives = pool(4)
    recent = {"cr_0": (1000.0, 80.0), "cr_1": (10.0, 5.0), "cr_2": (1000.0, 20.0)}
    ranked = [c.creative_id for c in strategies.hot(creatives, recent, prior_rate=0.02)]
    # cr_1's 5 of 10 is shrunk toward 2% (50 pseudo-impressions): 6/60 = 10% > cr_0's 8% ... and cr_3 unseen
    assert ranked == ["cr_1", "cr_0", "cr_2"]


def test_blocks_and_schedules_apply_per_placement_and_time():
    creatives = pool(4)
    line_rules = rules(
        blocks=[CreativeRule(creative_id="cr_0", placements=["banner"])],
        schedules=[
            CreativeRule(creative_id="cr_1", starts_at=NOW + timedelta(hours=1)),
            CreativeRule(
                creative_id="cr_2", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1)
            ),
        ],
    )
    on_banner = {c.creative_id for c in strategies.eligible(creatives, line_rules, "banner", NOW)}
    on_feed = {c.creative_id for c in strategies.eligible(creatives, line_rules, "home_feed", NOW)}
    assert on_banner == {"cr_2", "cr_3"}  # cr_0 blocked there, cr_1 not yet scheduled
    assert on_feed == {"cr_0", "cr_2", "cr_3"}
    later = {
        c.creative_id
        for c in strategies.eligible(creatives, line_rules, "home_feed", NOW + timedelta(hours=2))
    }
    assert later == {"cr_0", "cr_1", "cr_3"}  # cr_1's schedule began, cr_2's ended


def test_merge_puts_pins_first_respects_quotas_and_bounds_the_set():
    creatives = pool(30)
    line_rules = rules(
        pins=[CreativeRule(creative_id="cr_0")],
        quotas=Quotas(tag=3, hot=2),
    )
    recent = {f"cr_{i}": (500.0, float(i)) for i in range(10, 20)}
    hot = [c.creative_id for c in strategies.hot(creatives, recent, prior_rate=0.02)]
    recalled = recall(
        creatives,
        line_rules,
        request(tags=frozenset({"selling:gift"})),
        hot,
        max_candidates=8,
    )
    ids = [c.creative_id for c in recalled.candidates]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert ids[0] == "cr_0" and recalled.sources[PIN] == [0]
    assert ids[1:4] == ["cr_29", "cr_27", "cr_25"]  # the newest gift creatives, up to the tag quota
    assert ids[4:6] == ["cr_19", "cr_18"]  # the two hottest
    assert recalled.sources[TAG] == [1, 2, 3] and recalled.sources[HOT] == [4, 5]
    # The business line fills the rest with the newest not yet taken, and claims those it also proposed
    assert ids[6:] == ["cr_28", "cr_26"]
    assert {1, 2, 3, 6, 7} <= set(recalled.sources[BUSINESS_LINE])
    assert recalled.strategies_of(1) == [TAG, BUSINESS_LINE]


def test_user_features_map_to_tags_and_a_request_matching_nothing_still_gets_the_line():
    creatives = pool(6)
    line_rules = rules(feature_tags=[FeatureTags(feature="segment", value="gifter", tags=["selling:gift"])])
    mapped = recall(
        creatives,
        line_rules,
        request(user_features={"segment": "gifter"}),
        (),
        max_candidates=3,
    )
    assert [c.creative_id for c in mapped.candidates] == ["cr_5", "cr_3", "cr_1"]
    plain = recall(creatives, line_rules, request(user_features={"segment": "x"}), (), max_candidates=3)
    assert [c.creative_id for c in plain.candidates] == ["cr_5", "cr_4", "cr_3"]
    assert set(plain.sources) == {BUSINESS_LINE}


def test_requests_with_equal_recall_keys_get_the_same_candidates_and_keys_differ_where_results_can():
    creatives = pool(12)
    line_rules = rules(
        pins=[CreativeRule(creative_id="cr_1", starts_at=NOW + timedelta(hours=1))],
        blocks=[CreativeRule(creative_id="cr_2", placements=["banner"])],
        schedules=[CreativeRule(creative_id="cr_3", ends_at=NOW + timedelta(hours=2))],
        feature_tags=[FeatureTags(feature="segment", value="gifter", tags=["selling:gift"])],
        quotas=Quotas(tag=2, hot=1),
    )
    hot = ["cr_4", "cr_0"]
    requests = [
        request(),
        request(user_features={"age": 30}),  # a feature no rule maps: the same candidates
        request(at_offset=timedelta(minutes=30)),  # no timed rule starts or ends in between
        request(user_features={"segment": "gifter"}),
        request(tags=frozenset({"selling:gift"})),  # the same tags the mapping above gives
        request(category="coffee"),
        request(placement="banner"),
        request(at_offset=timedelta(hours=1)),  # the pin starts
        request(at_offset=timedelta(hours=3)),  # and the schedule has ended
    ]
    keys = [recall_key(line_rules, r) for r in requests]
    results = [
        [c.creative_id for c in recall(creatives, line_rules, r, hot, max_candidates=12).candidates]
        for r in requests
    ]
    for i in range(len(requests)):
        for j in range(len(requests)):
            if keys[i] == keys[j]:
                assert results[i] == results[j], (i, j)
    # Requests that differ only in what recall ignores share a key; each real difference gets its own
    assert keys[0] == keys[1] == keys[2] and keys[3] == keys[4]
    assert len({keys[0], keys[3], keys[5], keys[6], keys[7], keys[8]}) == 6
    assert (
        len({tuple(r) for r in (results[0], results[3], results[5], results[6], results[7], results[8])}) == 6
    )


def test_everything_blocked_leaves_no_candidates():
    creatives = pool(2)
    line_rules = rules(blocks=[CreativeRule(creative_id="cr_0"), CreativeRule(creative_id="cr_1")])
    assert recall(creatives, line_rules, request(), (), max_candidates=5).candidates == []


@pytest.mark.parametrize(
    "bad",
    [
        {
            "schedules": [
                {
                    "creative_id": "cr_1",
                    "starts_at": "2026-12-01T00:00:00Z",
                    "ends_at": "2026-12-03T00:00:00Z",
                },
                {
                    "creative_id": "cr_1",
                    "starts_at": "2026-12-02T00:00:00Z",
                    "ends_at": "2026-12-04T00:00:00Z",
                },
            ]
        },
        {"pins": [{"creative_id": "cr_1"}], "blocks": [{"creative_id": "cr_1", "placements": ["home_feed"]}]},
        {
            "pins": [
                {
                    "creative_id": "cr_1",
                    "starts_at": "2026-12-02T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                }
            ]
        },
        {"pins": [{"creative_id": "cr_1", "starts_at": "2026-12-02T00:00:00"}]},  # no time zone
        {"feature_tags": [{"feature": "segment", "value": "x", "tags": ["nonsense"]}]},
    ],
)
def test_inconsistent_rules_are_refused(bad):
    with pytest.raises(ValidationError):
        rules(**bad)


def test_consecutive_schedules_and_pins_on_other_placements_are_fine():
    ok = rules(
        schedules=[
            {"creative_id": "cr_1", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-02T00:00:00Z"},
            {"creative_id": "cr_1", "starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-03T00:00:00Z"},
        ],
        pins=[{"creative_id": "cr_2", "placements": ["banner"]}],
        blocks=[{"creative_id": "cr_2", "placements": ["story"]}],
    )
    assert ok.creative_ids() == {"cr_1", "cr_2"}
