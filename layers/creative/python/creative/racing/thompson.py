"""Beta-Bernoulli Thompson sampling that also reports the propensity of its choice.

The probability that Thompson sampling picks arm i has no closed form for more than two Beta arms, so it is
estimated by Monte Carlo: the decision is the winner of the first of `draws + 1` independent posterior
samples, and its propensity is the share of all samples the chosen arm wins. That share counts the
decision's own sample, so it is never zero, and its standard error sqrt(p(1-p)/(draws+1)) is logged with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
        clicks = np.array([max(a.clicks, 0) for a in arms], dtype=np.float64)
        misses = np.array([max(a.impressions - a.clicks, 0) for a in arms], dtype=np.float64)
        samples = rng.beta(
            self.prior_alpha + clicks, self.prior_beta + misses, size=(self.draws + 1, len(arms))
        )
        winners = samples.argmax(axis=1)
        chosen = int(winners[0])
        propensity = float(np.count_nonzero(winners == chosen)) / (self.draws + 1)
        stderr = float(np.sqrt(propensity * (1.0 - propensity) / (self.draws + 1)))
        return Choice(
            arm_id=arms[chosen].arm_id, index=chosen, propensity=propensity, propensity_stderr=stderr
        )

    def posterior_mean(self, impressions: int, clicks: int) -> float:
        misses = max(impressions - clicks, 0)
        return (self.prior_alpha + clicks) / (self.prior_alpha + self.prior_beta + clicks + misses)
