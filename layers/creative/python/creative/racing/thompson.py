"""Beta-Bernoulli Thompson sampling that also reports the propensity of its choice.

The probability that Thompson sampling picks arm i has no closed form for more than two Beta arms, so it is
estimated by Monte Carlo: the decision is the winner of one joint posterior sample, and its propensity is
the share of `draws` further, independent samples that the chosen arm wins. Those samples are independent
of the decision, so the estimate is unbiased; its standard error sqrt(p(1-p)/draws) is logged with it.
When the chosen arm wins none of them (its true probability is then most likely below 1/draws), the
estimate is floored at 1/(draws+1): an over-estimate, bounded by the stated error, rather than a zero that
would make inverse-propensity weights infinite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from creative.impressions import BetaPosterior

POLICY_VERSION = "ts-beta-v1"


@dataclass(frozen=True)
class ArmState:
    arm_id: str
    impressions: int
    clicks: int


@dataclass(frozen=True)
class Choice:
    arm_id: str
    index: int
    propensity: float
    propensity_stderr: float


class ThompsonSampler:
    def __init__(self, *, draws: int = 1000, prior_alpha: float = 1.0, prior_beta: float = 1.0):
        if draws < 1:
            raise ValueError("draws must be positive")
        self.draws = draws
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta

    def choose(self, arms: Sequence[ArmState], rng: np.random.Generator) -> Choice:
        if not arms:
            raise ValueError("no arms to choose from")
        posteriors = [self.posterior(a.impressions, a.clicks) for a in arms]
        alpha = np.array([p.alpha for p in posteriors])
        beta = np.array([p.beta for p in posteriors])
        samples = rng.beta(alpha, beta, size=(self.draws + 1, len(arms)))
        winners = samples.argmax(axis=1)
        chosen = int(winners[0])
        wins = int(np.count_nonzero(winners[1:] == chosen))
        if wins == 0:
            floor = 1.0 / (self.draws + 1)
            return Choice(arm_id=arms[chosen].arm_id, index=chosen, propensity=floor, propensity_stderr=floor)
        propensity = wins / self.draws
        stderr = float(np.sqrt(propensity * (1.0 - propensity) / self.draws))
        return Choice(
            arm_id=arms[chosen].arm_id, index=chosen, propensity=propensity, propensity_stderr=stderr
        )

    def posterior(self, impressions: int, clicks: int) -> BetaPosterior:
        return BetaPosterior.of(impressions, clicks, self.prior_alpha, self.prior_beta)
