"""The racer: Thompson sampling on the log-odds of a click, with the CTR model as the prior and the online
learner's evidence (`creative.racing.learner`) as the likelihood.

Each candidate's log-odds for this user has a normal posterior (`learner.fuse`): its mean starts at the CTR
model's prediction and moves with the evidence the online learner holds for the pair's keys (the creative,
its tags, and both crossed with the user's features). Thompson sampling picks each candidate with the
probability that its draw is the largest. Rather than drawing one sample per candidate and logging a
Monte-Carlo guess at that probability, the racer computes the probabilities by quadrature on a grid, mixes in
a uniform exploration floor, and samples the decision from the result: the propensity it logs is then
exactly the probability with which the choice was made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from creative.racing.learner import LearnerConfig

POLICY_VERSION = "racer-v2"


@dataclass(frozen=True)
class RacerConfig:
    # Precision (1 / variance) on the log-odds scale of the CTR model's prediction as a prior: a trained
    # model's, and the constant one's before any model is promoted (then the line's own rate stands in).
    # Weak on purpose: a new creative starts at the model's prediction, and a few hundred impressions of
    # its own outweigh it. On the simulator's tuning seed 101 (expected / first-day CTR %): precision 10
    # 5.00 / 4.44, 1 5.21 / 4.44, 0.3 5.65 / 4.65, 0.1 5.74 / 4.57, 0.01 5.83 / 4.53.
    model_prior_precision: float = 0.1
    # On the immediate-feedback loop (no model; tuning seeds 201-240, first 3,000 requests): 16 and 64
    # within 1% of 4, 1 lost 3.9% (docs/racing.md, Limits).
    untrained_prior_precision: float = 4.0
    exploration_floor: float = 0.01  # share spread uniformly: every propensity >= exploration_floor / K
    half_life_hours: float = 72.0  # evidence this old counts half
    grid_points: int = 128  # quadrature resolution of the Thompson probabilities
    counter_shards: int = 4  # items each creative's counters are spread over (hot creatives)
    learner: LearnerConfig = field(default_factory=LearnerConfig)

    def __post_init__(self) -> None:
        if self.model_prior_precision <= 0 or self.untrained_prior_precision <= 0:
            raise ValueError("prior precisions must be positive")
        if not 0.0 <= self.exploration_floor <= 1.0:
            raise ValueError("exploration_floor must be within [0, 1]")
        if self.half_life_hours <= 0:
            raise ValueError("half_life_hours must be positive")
        if self.grid_points < 16:
            raise ValueError("grid_points must be at least 16")
        if not 1 <= self.counter_shards <= 32:
            raise ValueError("counter_shards must be within [1, 32]")


@dataclass(frozen=True)
class Decision:
    index: int
    propensity: float  # exact: the probability with which `index` was drawn


_SQRT_HALF = math.sqrt(0.5)
_UNIT_GRIDS: dict[int, np.ndarray] = {}


def _unit_grid(cells: int) -> np.ndarray:
    """`cells` + 1 evenly spaced points on [0, 1], made once: linspace's own overhead was a tenth of a choice."""
    grid = _UNIT_GRIDS.get(cells)
    if grid is None:
        grid = _UNIT_GRIDS[cells] = np.linspace(0.0, 1.0, cells + 1)
    return grid


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and scipy stays out of select.

    The tail beyond |z|, 0.5 erfc(|z| / sqrt 2), is computed once in place (this runs on every candidate x
    grid cell of every choice); the CDF is that tail below the mean and 1 minus it above."""
    x = np.abs(z)
    x *= _SQRT_HALF
    t = 0.3275911 * x
    t += 1.0
    np.reciprocal(t, out=t)
    tail = 1.061405429 * t
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        tail += coefficient
        tail *= t
    np.square(x, out=x)
    np.negative(x, out=x)
    np.exp(x, out=x)
    tail *= x
    tail *= 0.5
    np.subtract(1.0, tail, out=tail, where=z >= 0)
    return tail


def _win_probabilities(cdf: np.ndarray) -> np.ndarray:
    """P(arm i has the largest draw) from each arm's CDF at the grid's edges (k, cells + 1): the sum over
    cells of mass_i x prod_{j != i} F_j at the cell's midpoint, normalised."""
    k = cdf.shape[0]
    lower, upper = cdf[:, :-1], cdf[:, 1:]
    mass = upper - lower
    cdf_mid = upper + lower
    cdf_mid *= 0.5
    # prod over j != i of F_j = (prod over all) / F_i. F_i >= mass_i / 2 at every midpoint, so the ratio
    # mass_i / F_i is at most 2, and where the full product underflows (float32: below 1e-38) the term it
    # loses is below 2e-38, of wins that sum to about 1.
    everyone = cdf_mid.prod(axis=0)
    # A midpoint of 0 has both edges at 0, so its mass is 0 too: any positive divisor gives its 0 ratio.
    np.maximum(cdf_mid, np.finfo(cdf_mid.dtype).tiny, out=cdf_mid)
    ratio = np.divide(mass, cdf_mid, out=mass)
    wins = (ratio @ everyone).astype(np.float64)
    np.maximum(wins, 0.0, out=wins)
    total_wins = wins.sum()
    return wins / total_wins if total_wins > 0 else np.full(k, 1.0 / k)


def gaussian_thompson_probabilities(mean: np.ndarray, sd: np.ndarray, grid_points: int = 128) -> np.ndarray:
    """P(arm i has the largest draw) for independent normal arms N(mean_i, sd_i^2), by quadrature.

    The same integral as `thompson_probabilities`, over [L, H] where L is the best arm's lower bound
    (mean - 6 sd) and H the highest upper bound; each arm's mass per cell is an exact difference of its
    normal CDF, so narrow and wide arms need no special case beyond the grid's dense half."""
    k = len(mean)
    if k == 1:
        return np.ones(1)
    sd = np.maximum(np.asarray(sd, dtype=np.float64), 1e-9)
    mean = np.asarray(mean, dtype=np.float64)
    reach = 6.0 * sd
    low, top = float((mean - reach).max()), mean + reach
    contending = top >= low
    if not contending.all():
        out = np.zeros(k)
        out[contending] = gaussian_thompson_probabilities(mean[contending], sd[contending], grid_points)
        return out
    high = float(top.max())
    if high <= low:
        return np.full(k, 1.0 / k)
    z = _grid_edges(mean, sd, low, high, grid_points)[None, :] - mean[:, None]
    z /= sd[:, None]
    # The CDFs in float32: their rounding (6e-8) is below the approximation's own error (1.5e-7), and the
    # candidates x cells arrays are the choice's main cost, which single precision about halves (AVX2).
    return _win_probabilities(_normal_cdf(z.astype(np.float32)))


def _grid_edges(mean: np.ndarray, sd: np.ndarray, low: float, high: float, points: int) -> np.ndarray:
    """Half the cells span [low, high]; the other half are packed where the narrow contenders are.

    A wide cold-start arm stretches the range, while two well-observed arms a few tenths of a
    percentage point apart decide most choices: without the dense half they would share one cell.
    """
    backbone = low + (high - low) * _unit_grid(points // 2)
    contenders = (mean + 6.0 * sd >= low) & (sd < 3.0 * (backbone[1] - backbone[0]))
    if not contenders.any():
        return low + (high - low) * _unit_grid(points)
    chosen_mean, chosen_reach = mean[contenders], 6.0 * sd[contenders]
    dense_low = max(low, float((chosen_mean - chosen_reach).min()))
    dense_high = min(high, float((chosen_mean + chosen_reach).max()))
    dense = dense_low + (dense_high - dense_low) * _unit_grid(points - points // 2)
    edges = np.concatenate([backbone, dense])
    edges.sort()
    distinct = np.empty(len(edges), dtype=bool)  # np.unique, without its overhead on 128 points
    distinct[0] = True
    np.not_equal(edges[1:], edges[:-1], out=distinct[1:])
    return edges[distinct]


class ContextualRacer:
    def __init__(self, config: RacerConfig | None = None):
        self.config = config or RacerConfig()

    def probabilities(self, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
        """The full action distribution: Thompson probabilities of the log-odds posteriors (their variance
        scaled by the learner's `posterior_scale`) mixed with the exploration floor."""
        scale = self.config.learner.posterior_scale
        sd = np.sqrt(np.maximum(np.asarray(variance, dtype=np.float64), 0.0) * scale)
        thompson = gaussian_thompson_probabilities(
            np.asarray(mean, dtype=np.float64), sd, self.config.grid_points
        )
        floor = self.config.exploration_floor
        return (1.0 - floor) * thompson + floor / len(thompson)

    def choose(self, mean: np.ndarray, variance: np.ndarray, rng: np.random.Generator) -> Decision:
        if len(mean) == 0:
            raise ValueError("no candidates to choose from")
        probabilities = self.probabilities(mean, variance)
        index = int(np.searchsorted(np.cumsum(probabilities), rng.random() * probabilities.sum()))
        index = min(index, len(probabilities) - 1)
        return Decision(index=index, propensity=float(probabilities[index]))
