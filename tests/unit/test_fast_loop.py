"""The fast loop's summary: lifts and the noise ablation are paired per seed; arithmetic, no simulation."""

from __future__ import annotations

import pytest
from evaluation.fast_loop import NOISY_RACER, summarise


def test_the_noise_ablation_pairs_the_noisy_racer_with_the_racer_and_is_not_a_peer():
    # Given two seeds of 1,000 requests where the racer makes 4% and 5% over the first 500 and the racer
    # with noise features 3% and 5.5%, against a uniform peer at 2.5%
    def cells(first_500: float, whole: float) -> dict[str, float]:
        return {"500": first_500, "1000": whole}

    results = [
        (1, "uniform", cells(0.025, 0.025)),
        (2, "uniform", cells(0.025, 0.025)),
        (1, "racer", cells(0.04, 0.04)),
        (2, "racer", cells(0.05, 0.05)),
        (1, NOISY_RACER, cells(0.03, 0.04)),
        (2, NOISY_RACER, cells(0.055, 0.05)),
    ]

    # When the runs are summarised
    out = summarise(results, [1, 2], ["uniform", "racer"], 1000)

    # Then the ablation's change is each seed's noisy over clean CTR, and the noisy racer is neither a row
    # of the table nor a peer the racer is lifted over
    change = out["noise_ablation"]["relative_change"]
    assert change["500"]["per_seed"] == [pytest.approx(-0.25), pytest.approx(0.1)]
    assert change["1000"]["mean"] == pytest.approx(0.0)
    assert out["noise_ablation"]["with_noise"]["500"]["mean"] == pytest.approx(0.0425)
    assert set(out["expected_ctr"]) == {"uniform", "racer"}
    assert set(out["racer_lift"]) == {"uniform"}
    assert out["racer_lift"]["uniform"]["1000"]["per_seed"] == [pytest.approx(0.6), pytest.approx(1.0)]


def test_without_the_noisy_racer_there_is_no_ablation():
    results = [(1, "uniform", {"300": 0.03}), (1, "racer", {"300": 0.04})]
    assert "noise_ablation" not in summarise(results, [1], ["uniform", "racer"], 300)
