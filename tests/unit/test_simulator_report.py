"""The simulator report's paired lifts and its ceiling: arithmetic on per-seed figures, no simulation."""

from __future__ import annotations

import pytest
from evaluation.simulator_report import LIFT_METRICS, PEERS, RACER, ceiling, lifts, mean_ci


def summary_of(per_seed: dict[str, list[float]]) -> dict:
    return {policy: {m: mean_ci(values) for m in LIFT_METRICS} for policy, values in per_seed.items()}


def test_the_ceiling_says_how_far_the_features_oracle_is_above_the_best_peer_and_each_policys_share():
    # Given two seeds on which uniform makes 3%, the features oracle 7% and 8%, the best peer 5% and the racer 6%
    per_seed = {
        "uniform": [0.03, 0.03],
        "oracle_features": [0.07, 0.08],
        RACER: [0.06, 0.06],
        PEERS[-1]: [0.05, 0.05],
        PEERS[0]: [0.04, 0.04],
    }

    # When the ceiling is computed
    found = ceiling(summary_of(per_seed), racer_present=True)["ctr"]

    # Then the best peer is named, the oracle's lift over it is paired per seed, and each share is the part
    # of the room between uniform and the oracle the policy took
    assert found["best_peer"] == PEERS[-1]
    assert found["oracle_features_vs_best_peer"]["per_seed"] == [pytest.approx(0.4), pytest.approx(0.6)]
    assert found["share_of_headroom"][RACER]["per_seed"] == [pytest.approx(0.75), pytest.approx(0.6)]
    assert found["share_of_headroom"][PEERS[-1]]["mean"] == pytest.approx((0.5 + 0.4) / 2)
    assert found["share_of_headroom"][PEERS[0]]["per_seed"] == [pytest.approx(0.25), pytest.approx(0.2)]


def test_lifts_carry_the_ceiling_only_when_the_features_oracle_ran():
    per_seed = {"uniform": [0.03], RACER: [0.06], PEERS[-1]: [0.05]}
    assert "ceiling" not in lifts(summary_of(per_seed), racer_present=True)
    per_seed["oracle_features"] = [0.07]
    found = lifts(summary_of(per_seed), racer_present=True)
    assert found["ceiling"]["expected_ctr"]["share_of_headroom"][RACER]["mean"] == pytest.approx(0.75)
    assert found["ctr"][RACER]["vs_best_peer"]["mean"] == pytest.approx(0.2)
