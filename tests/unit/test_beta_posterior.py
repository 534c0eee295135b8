"""The Beta posterior the console's charts and the per-asset labels share (`creative.impressions`)."""

import pytest
from creative.impressions import BetaPosterior


def test_two_clicks_in_four_under_a_uniform_prior_is_beta_3_3_with_its_intervals():
    posterior = BetaPosterior.of(4, 2)
    assert (posterior.alpha, posterior.beta) == (3, 3)
    # mean 0.5, sd sqrt(9 / (36 x 7)) = 0.18898; normal approximation, z = 1.64485 (90%) and 1.95996 (95%)
    assert (posterior.mean, posterior.sd) == pytest.approx((0.5, 0.188982), abs=1e-6)
    assert posterior.interval(0.9) == pytest.approx((0.18915, 0.81085), abs=1e-5)
    assert posterior.interval95() == pytest.approx((0.12960, 0.87040), abs=1e-5)


def test_evidence_shrunk_toward_a_rate_and_the_probability_of_lying_below_a_rate():
    # 30 clicks in 1,000 time-weighted impressions, shrunk toward 5% counted as 20 impressions: Beta(31, 989)
    posterior = BetaPosterior.shrunk_to(1000.0, 30.0, 0.05, 20.0)
    assert (posterior.alpha, posterior.beta) == pytest.approx((31.0, 989.0))
    assert posterior.probability_below(posterior.mean) == pytest.approx(0.5)
    # sd = sqrt(31 x 989 / (1020^2 x 1021)) = 0.005368: 5% lies 3.66 sd above the mean of 3.04%
    assert posterior.probability_below(0.05) == pytest.approx(0.99987, abs=1e-4)
    # Negative clicks (a decayed counter's rounding) count as none, and so does more clicks than impressions
    assert BetaPosterior.shrunk_to(10.0, -0.5, 0.5, 2.0).alpha == pytest.approx(1.0)
    assert BetaPosterior.shrunk_to(10.0, 12.0, 0.5, 2.0).beta == pytest.approx(1.0)
    # With no spread left, the answer is certain
    assert BetaPosterior(5.0, 0.0).probability_below(0.9) == 0.0
