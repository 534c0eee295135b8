"""The simulator's click model on the real MovieLens-100K (the recbole wheel, fetched once from PyPI)."""

import pytest
from evaluation import click_model, movielens


def test_click_model_on_real_movielens_is_within_its_stated_bounds():
    # Given the real MovieLens-100K from the cached recbole wheel
    data = movielens.load()
    assert (len(data.users), len(data.movies), len(data.rating)) == (943, 1682, 100_000)

    # When the click model is fitted and calibrated
    calibration = click_model.fit(data).calibration

    # Then the mean CTR and the per-user spread are at their targets
    assert calibration["mean_ctr"] == pytest.approx(click_model.MEAN_CTR, abs=5e-4)
    assert calibration["median_user_spread_p90_p10"] == pytest.approx(click_model.SPREAD_P90_P10, rel=0.02)
    # And every stage of the rating model improves held-out RMSE, so each is signal, not noise
    rmse = calibration["holdout_rating_rmse"]
    assert rmse["global_mean"] > rmse["+item"] > rmse["+demographic"] > rmse["+individual"]
