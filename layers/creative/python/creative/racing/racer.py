"""The racer: Thompson sampling over (creative, segment) arms whose prior is the CTR model's prediction.

Each arm's posterior is Beta(m*p + c', m*(1-p) + n - c'): p is the model's CTR for this user and creative,
m (`prior_strength`) says how many impressions that prediction is worth, and n is the arm's time-decayed
impressions in the user's segment. A new creative therefore starts at its predicted CTR and moves to its
observed CTR as evidence arrives.

c' credits the arm's clicks to this user. Clicks earned while the current model was live are rescaled by
p / (e / n_m), where e is the sum of that model's predictions over those n_m impressions: an arm whose
clicks came from users the model rates highly is not credited at that rate for a user it rates low, so
evidence corrects the model arm by arm (observed / expected) instead of washing out its user-level
prediction. Clicks from before the current model was promoted count as they are (plain counts): their
observed / expected ratio was measured against another model and would double-count what this one knows.

Thompson sampling picks each arm with the probability that it is the best under the posterior. Rather
than drawing one sample per arm and logging a Monte-Carlo guess at that probability, the racer computes
the probabilities by quadrature on a grid, mixes in a uniform exploration floor, and samples the decision
from the result: the propensity it logs is then exactly the probability with which the choice was made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

POLICY_VERSION = "racer-v1"
_MIN_CTR = 1e-5


@dataclass(frozen=True)
class RacerConfig:
    prior_strength: float = 60.0  # pseudo-impressions a trained model's prediction is worth
    # ... and the constant prior used before any model is promoted: it knows nothing about the creatives,
    # so it should give way to the first few impressions.
    untrained_prior_strength: float = 2.0
    exploration_floor: float = 0.05  # share spread uniformly: every propensity >= exploration_floor / K
    half_life_hours: float = 72.0  # evidence this old counts half
    grid_points: int = 128  # quadrature resolution of the Thompson probabilities
    segment_by: tuple[str, ...] = ()  # user features that split an arm; low-cardinality ones only

    def __post_init__(self) -> None:
        if self.prior_strength <= 0 or self.untrained_prior_strength <= 0:
            raise ValueError("prior strengths must be positive")
        if not 0.0 <= self.exploration_floor <= 1.0:
            raise ValueError("exploration_floor must be within [0, 1]")
        if self.half_life_hours <= 0:
            raise ValueError("half_life_hours must be positive")
        if self.grid_points < 16:
            raise ValueError("grid_points must be at least 16")


@dataclass(frozen=True)
class Decision:
    index: int
    propensity: float  # exact: the probability with which `index` was drawn


def segment_of(user: Mapping[str, object], segment_by: Sequence[str]) -> str:
    """The user's segment, e.g. "gender=f|age_band=25-34"; "all" when arms are not split."""
    if not segment_by:
        return "all"
    return "|".join(f"{name}={str(user.get(name, ''))[:32]}" for name in segment_by)


@dataclass(frozen=True)
class ArmClock:
    """Exponential decay with atomic counters.

    An event at time t adds the weight 2**((t - t0)/h) to its arm's counter, where t0 starts the current
    epoch; the counter read at `now` is scaled by 2**((t0 - now)/h). That equals the sum of 2**((t - now)/h)
    over events (each counts half after one half-life), but needs only an atomic ADD per event, so
    concurrent selects never race. Epochs last 32 half-lives, which bounds every weight below 2**32; older
    epochs' counters are worth less than 2**-32 of an event and are ignored.
    """

    half_life_s: float
    epoch_half_lives: int = 32

    @property
    def epoch_s(self) -> float:
        return self.half_life_s * self.epoch_half_lives

    def epoch(self, t: float) -> int:
        return math.floor(t / self.epoch_s)

    def key(self, segment: str, t: float, model_version: str) -> str:
        """The counter an event at `t` adds to: per segment, epoch and the model that was live."""
        return f"{segment}@{self.epoch(t)}#{model_version}"

    def weight(self, t: float) -> float:
        # Rounded: DynamoDB sums numbers exactly up to 38 digits, so addends must not carry 17 decimals.
        return round(2.0 ** ((t - self.epoch(t) * self.epoch_s) / self.half_life_s), 6)

    def reader(self, segment: str, model_version: str, now: float) -> ArmReader:
        current = self.epoch(now)
        scales = {
            f"{segment}@{epoch}#": 2.0 ** ((epoch * self.epoch_s - now) / self.half_life_s)
            for epoch in (current - 1, current)
        }
        return ArmReader(scales, "#" + model_version)


@dataclass(frozen=True)
class ArmReader:
    """Reads one request's arms: its segment's last two epochs, decayed to now; built once per request."""

    scales: dict[str, float]  # counter-name prefix "<segment>@<epoch>#" -> decay factor
    model_suffix: str  # "#<version>" of the model now live

    def read(self, counters: Mapping[str, float]) -> tuple[float, float]:
        """(all models, the current model only) decayed totals of one counter family."""
        total = current = 0.0
        for name, value in counters.items():
            prefix = name[: name.rfind("#") + 1]
            scale = self.scales.get(prefix)
            if scale is not None:
                total += value * scale
                if name.endswith(self.model_suffix):
                    current += value * scale
        return total, current

    def evidence(self, creatives: Sequence[Any]) -> ArmEvidence:
        """The arms of these creatives (anything with arm_impressions / arm_clicks / arm_expected)."""
        rows = [
            (*self.read(c.arm_impressions), *self.read(c.arm_clicks), self.read(c.arm_expected)[1])
            for c in creatives
        ]
        n, n_model, c, c_model, e_model = (np.array(column) for column in zip(*rows, strict=True))
        return ArmEvidence(n, c, n_model, c_model, e_model)


@dataclass(frozen=True)
class ArmEvidence:
    impressions: np.ndarray  # decayed, every model
    clicks: np.ndarray
    model_impressions: np.ndarray  # decayed, while the current model was live
    model_clicks: np.ndarray
    model_expected: np.ndarray  # the current model's predictions summed over its impressions

    def credited_clicks(self, prior_ctr: np.ndarray) -> np.ndarray:
        """c': earlier models' clicks as they are, the current model's rescaled to this user's prediction."""
        scale = np.divide(
            prior_ctr * self.model_impressions,
            self.model_expected,
            out=np.ones_like(self.model_expected),
            where=self.model_expected > 1e-12,
        )
        credited = (self.clicks - self.model_clicks) + self.model_clicks * scale
        return np.clip(credited, 0.0, self.impressions)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and scipy stays out of select."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def _log_gamma(x: np.ndarray) -> np.ndarray:
    """log Gamma(x) for x > 0: Stirling's series from 8 up (error < 1e-11), math.lgamma below."""
    out = np.empty_like(x)
    large = x >= 8.0
    y = x[large]
    inv = 1.0 / y
    out[large] = (
        (y - 0.5) * np.log(y)
        - y
        + 0.5 * math.log(2 * math.pi)
        + inv * (1 / 12 - inv * inv * (1 / 360 - inv * inv * (1 / 1260 - inv * inv / 1680)))
    )
    out[~large] = [math.lgamma(v) for v in x[~large].tolist()]
    return out


def thompson_probabilities(alpha: np.ndarray, beta: np.ndarray, grid_points: int = 128) -> np.ndarray:
    """P(arm i has the largest sample) for independent Beta(alpha_i, beta_i) arms, by quadrature.

    The integral of f_i(x) * prod_{j != i} F_j(x) runs over [L, H]: below L the arm with the highest
    lower bound beats everything, above H no arm has mass. Each arm's mass per grid cell comes from its
    Beta density, or from a normal approximation's CDF when the arm is too narrow for the grid and has at
    least 30 pseudo-clicks and non-clicks (where the normal limit is accurate). The result is normalised, so it is
    a proper distribution to sample from whatever the residual quadrature error.
    """
    k = len(alpha)
    if k == 1:
        return np.ones(1)
    total = alpha + beta
    mean = alpha / total
    sd = np.sqrt(alpha * beta / (total * total * (total + 1.0)))
    # Arms entirely below the best lower bound cannot win (P < 1e-9): leave them out of the integral.
    contending = mean + 6.0 * sd >= float(np.max(mean - 6.0 * sd))
    if not contending.all():
        out = np.zeros(k)
        out[contending] = thompson_probabilities(alpha[contending], beta[contending], grid_points)
        return out
    low = max(0.0, float(np.max(mean - 6.0 * sd)))
    high = min(1.0, float(np.max(mean + 6.0 * sd)))
    if high <= low:
        return np.full(k, 1.0 / k)
    edges = _grid_edges(mean, sd, low, high, grid_points)
    width = np.diff(edges)
    # The normal limit only for arms with real evidence on both sides; small-count arms keep their Beta
    # density (the dense half of the grid gives narrow ones the resolution they need).
    narrow = (sd < 3.0 * width.max()) & (np.minimum(alpha, beta) >= 30.0)
    mass = np.empty((k, len(width)))
    below = np.empty(k)
    if narrow.any():
        cdf = _normal_cdf((edges[None, :] - mean[narrow, None]) / sd[narrow, None])
        mass[narrow] = np.diff(cdf, axis=1)
        below[narrow] = cdf[:, 0]
    wide = ~narrow
    if wide.any():
        a, b = alpha[wide], beta[wide]
        mid = edges[:-1] + 0.5 * width
        log_pdf = (a - 1.0)[:, None] * np.log(mid) + (b - 1.0)[:, None] * np.log1p(-mid)
        log_norm = _log_gamma(a + b) - _log_gamma(a) - _log_gamma(b)
        wide_mass = np.exp(log_pdf + log_norm[:, None]) * width
        if edges[0] == 0.0:
            # Below alpha = 1 the density is infinite at 0 and the midpoint rule misses most of the first
            # cell; integrate x^(a-1) there instead: mass = h^a / a / B(a, b).
            first = np.exp(a * math.log(width[0]) - np.log(a) + log_norm)
            wide_mass[:, 0] = np.where(a < 1.0, first, wide_mass[:, 0])
        mass[wide] = wide_mass
        below[wide] = np.clip(1.0 - mass[wide].sum(axis=1), 0.0, 1.0)  # mass under L (none above H)
    cdf_mid = below[:, None] + np.cumsum(mass, axis=1) - 0.5 * mass
    # prod over j != i of F_j = (prod over all) / F_i. F_i >= mass_i / 2 at every midpoint, so the ratio
    # mass_i / F_i is at most 2, and where the full product underflows the term it loses is below 2 x 1e-308.
    everyone = np.prod(cdf_mid, axis=0)
    ratio = np.divide(mass, cdf_mid, out=np.zeros_like(mass), where=cdf_mid > 0)
    wins = np.maximum(ratio @ everyone, 0.0)
    total_wins = wins.sum()
    return wins / total_wins if total_wins > 0 else np.full(k, 1.0 / k)


def _grid_edges(mean: np.ndarray, sd: np.ndarray, low: float, high: float, points: int) -> np.ndarray:
    """Half the cells span [low, high]; the other half are packed where the narrow contenders are.

    A wide cold-start arm stretches the range, while two well-observed arms a few tenths of a
    percentage point apart decide most choices: without the dense half they would share one cell.
    """
    backbone = np.linspace(low, high, points // 2 + 1)
    contenders = (mean + 6.0 * sd >= low) & (sd < 3.0 * (backbone[1] - backbone[0]))
    if not contenders.any():
        return np.linspace(low, high, points + 1)
    dense_low = max(low, float(np.min(mean[contenders] - 6.0 * sd[contenders])))
    dense_high = min(high, float(np.max(mean[contenders] + 6.0 * sd[contenders])))
    dense = np.linspace(dense_low, dense_high, points - points // 2 + 1)
    return np.unique(np.concatenate([backbone, dense]))


class ContextualRacer:
    def __init__(self, config: RacerConfig | None = None):
        self.config = config or RacerConfig()
        self.clock = ArmClock(self.config.half_life_hours * 3600.0)

    def posterior(
        self,
        prior_ctr: np.ndarray,
        impressions: np.ndarray,
        clicks: np.ndarray,
        prior_strength: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Beta(m p + c, m (1 - p) + n - c); `clicks` are the credited clicks c' (ArmEvidence)."""
        m = prior_strength or self.config.prior_strength
        p = np.clip(np.asarray(prior_ctr, dtype=np.float64), _MIN_CTR, 1.0 - _MIN_CTR)
        n = np.maximum(np.asarray(impressions, dtype=np.float64), 0.0)
        c = np.clip(np.asarray(clicks, dtype=np.float64), 0.0, n)
        return m * p + c, m * (1.0 - p) + (n - c)

    def probabilities(
        self,
        prior_ctr: np.ndarray,
        impressions: np.ndarray,
        clicks: np.ndarray,
        prior_strength: float | None = None,
    ) -> np.ndarray:
        """The full action distribution: Thompson probabilities mixed with the exploration floor."""
        alpha, beta = self.posterior(prior_ctr, impressions, clicks, prior_strength)
        thompson = thompson_probabilities(alpha, beta, self.config.grid_points)
        floor = self.config.exploration_floor
        return (1.0 - floor) * thompson + floor / len(thompson)

    def choose(
        self,
        prior_ctr: np.ndarray,
        impressions: np.ndarray,
        clicks: np.ndarray,
        rng: np.random.Generator,
        *,
        prior_strength: float | None = None,
    ) -> Decision:
        if len(prior_ctr) == 0:
            raise ValueError("no candidates to choose from")
        probabilities = self.probabilities(prior_ctr, impressions, clicks, prior_strength)
        index = int(np.searchsorted(np.cumsum(probabilities), rng.random() * probabilities.sum()))
        index = min(index, len(probabilities) - 1)
        return Decision(index=index, propensity=float(probabilities[index]))
