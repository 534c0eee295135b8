"""Per-asset labels from posterior evidence, with the thresholds in `creative.labels.LabelRules`."""

from creative.labels import LABEL_RULES, AssetEvidence, AssetLabel, label_assets, label_slot


def evidence(asset_id: str, n: float, clicks: float, **kw) -> AssetEvidence:
    return AssetEvidence("headline", asset_id, f"Headline {asset_id}", n, clicks, **kw)


def labels(rows, rules=LABEL_RULES) -> dict[str, AssetLabel]:
    return {r.asset_id: r.label for r in label_slot(rows, rules)}


def test_pending_and_learning_before_enough_evidence():
    assert labels([evidence("a", 0, 0), evidence("b", 50, 3)]) == {
        "a": AssetLabel.PENDING,
        "b": AssetLabel.LEARNING,
    }
    # Enough impressions, but nothing to compare with
    alone = label_slot([evidence("a", 5000, 100)])[0]
    assert alone.label is AssetLabel.LEARNING and "no other asset" in alone.why


def test_clear_winner_is_best_clear_loser_low_and_the_middle_good():
    rows = [evidence("win", 4000, 240), evidence("mid", 4000, 120), evidence("lose", 4000, 40)]
    rows += [evidence(f"x{i}", 4000, 120) for i in range(5)]
    result = {r.asset_id: r for r in label_slot(rows)}
    assert result["win"].label is AssetLabel.BEST and result["win"].rank == 1
    assert result["lose"].label is AssetLabel.LOW
    assert result["mid"].label is AssetLabel.GOOD
    assert "rank 1 of 8" in result["win"].why and "P(above" in result["win"].why
    low, high = result["win"].interval95
    assert low < result["win"].rate < high


def test_close_assets_stay_good_without_confidence():
    assert set(labels([evidence("a", 300, 9), evidence("b", 300, 8)]).values()) == {AssetLabel.GOOD}


def test_fatigue_when_the_recent_rate_falls_below_the_lifetime_rate():
    worn = evidence("worn", 2000, 20, lifetime_impressions=20000, lifetime_positives=800)
    fresh = evidence("fresh", 2000, 80, lifetime_impressions=20000, lifetime_positives=800)
    result = {r.asset_id: r for r in label_slot([worn, fresh])}
    assert result["worn"].fatigued and "fatigued" in result["worn"].why
    assert not result["fresh"].fatigued


def test_each_slot_is_judged_against_its_own_assets():
    rows = [
        AssetEvidence("image", "i1", "a.jpg", 4000, 400),
        AssetEvidence("image", "i2", "b.jpg", 4000, 40),
        AssetEvidence("phrase", "p1", "Only $5", 4000, 40),
        AssetEvidence("phrase", "p2", "Fresh", 4000, 4),
    ]
    result = {r.asset_id: r.label for r in label_assets(rows)}
    assert result["p1"] is not AssetLabel.LOW  # 1% is low for an image here, not for a phrase
    assert result["i2"] is AssetLabel.LOW and result["p2"] is AssetLabel.LOW


def test_a_judged_label_names_the_tags_whose_learned_effect_is_clear_largest_first():
    effects = (("iab:1", 0.05, 0.1), ("sp:price", 0.6, 0.1), ("iab:2", -0.3, 0.1))
    judged = {
        p.asset_id: p
        for p in label_slot(
            [
                evidence("a", 4000, 400, tag_effects=effects),
                evidence("b", 4000, 40),
                evidence("c", 10, 1, tag_effects=effects),
            ]
        )
    }
    assert [e.tag for e in judged["a"].tag_effects] == ["sp:price", "iab:2", "iab:1"]
    assert "sp:price +0.60 log-odds, iab:2 -0.30 log-odds" in judged["a"].why
    assert "iab:1" not in judged["a"].why  # within 2 sd of nothing
    assert "log-odds" not in judged["c"].why  # still LEARNING: its tags explain no label yet
