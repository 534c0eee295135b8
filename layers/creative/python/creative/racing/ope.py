"""Off-policy estimators: what a target policy's click rate would have been on traffic another policy logged.

The retraining service uses them to decide whether a challenger beats the champion without showing it to
anyone; `make evaluate` uses them on the Open Bandit Dataset. Numpy only: this module ships in a Lambda.

A log holds, per impression, the action shown, the reward observed and the propensity with which the
logging policy showed it. A target policy is its action distribution on each logged context, shape (n, K)
(rows sum to one; a row with fewer than K candidates is padded with zeros). A reward model is q_hat, shape
(n, K): the predicted reward of every action in every logged context.

- IPW: mean of w_i r_i, with w_i = pi(a_i | x_i) / p_i. Unbiased when the logging policy gave every action
  the target takes a positive propensity; its variance grows with the weights.
- SNIPW: sum(w r) / sum(w). Slightly biased, much less variance; of the logging policy itself it returns the
  logged mean reward exactly.
- DR: mean of sum_a pi(a | x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)). Unbiased if either the propensities or
  the reward model are right; exact (up to reward noise) when q is the true expected reward.

Confidence intervals are percentile bootstraps over impressions; the reward model is held fixed across
resamples (it is fitted once, elsewhere, ideally by cross-fitting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

METHODS = ("ipw", "snipw", "dr")
# Rows of an action distribution may drift from 1 by float error (e.g. sums of Monte Carlo shares).
_ROW_SUM_TOLERANCE = 1e-6
# Resamples are drawn in blocks so memory stays at block x n whatever n_boot is.
_BOOTSTRAP_BLOCK = 200


@dataclass(frozen=True)
class BanditLog:
    actions: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray

    def __post_init__(self) -> None:
        actions = np.asarray(self.actions)
        rewards = np.asarray(self.rewards, dtype=float)
        propensities = np.asarray(self.propensities, dtype=float)
        if actions.ndim != 1 or rewards.ndim != 1 or propensities.ndim != 1:
            raise ValueError("actions, rewards and propensities must be one-dimensional")
        if not len(actions) == len(rewards) == len(propensities):
            raise ValueError(
                f"lengths differ: {len(actions)} actions, {len(rewards)} rewards, {len(propensities)} propensities"
            )
        if len(actions) == 0:
            raise ValueError("the log is empty")
        if not np.issubdtype(actions.dtype, np.integer):
            raise ValueError("actions must be integer indices")
        if actions.min() < 0:
            raise ValueError("actions must be non-negative indices")
        if not np.all(np.isfinite(rewards)):
            raise ValueError("rewards must be finite")
        if not np.all((propensities > 0) & (propensities <= 1)):
            raise ValueError("propensities must lie in (0, 1]")
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "propensities", propensities)

    @property
    def n(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class Estimate:
    method: str
    value: float
    ci_low: float
    ci_high: float
    n: int


def ipw(log: BanditLog, action_dist: np.ndarray) -> float:
    return float(_ipw_terms(log, action_dist).mean())


def snipw(log: BanditLog, action_dist: np.ndarray) -> float:
    weights = _importance_weights(log, action_dist)
    return float(np.sum(weights * log.rewards) / np.sum(weights))


def dr(log: BanditLog, action_dist: np.ndarray, q_hat: np.ndarray) -> float:
    return float(_dr_terms(log, action_dist, q_hat).mean())


def estimate(
    method: str,
    log: BanditLog,
    action_dist: np.ndarray,
    q_hat: np.ndarray | None = None,
    *,
    n_boot: int = 1000,
    rng: np.random.Generator,
) -> Estimate:
    """Point estimate on the whole log and a 95% percentile-bootstrap interval."""
    statistic = _statistic(method, log, action_dist, q_hat)
    full = np.arange(log.n)[None, :]
    value = float(statistic(full)[0])
    replicates = _bootstrap(statistic, log.n, n_boot, rng)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return Estimate(method=method, value=value, ci_low=float(low), ci_high=float(high), n=log.n)


def on_policy(log: BanditLog, *, n_boot: int = 1000, rng: np.random.Generator) -> Estimate:
    """The logging policy's own value: the logged mean reward, with a 95% percentile-bootstrap interval."""
    statistic = _on_policy_statistic(log)
    replicates = _bootstrap(statistic, log.n, n_boot, rng)
    low, high = np.percentile(replicates, [2.5, 97.5])
    return Estimate(
        method="on-policy", value=float(log.rewards.mean()), ci_low=float(low), ci_high=float(high), n=log.n
    )


def improvement_probability(
    log: BanditLog,
    dist_champion: np.ndarray | None,
    dist_challenger: np.ndarray,
    q_hat: np.ndarray | None = None,
    *,
    method: str = "dr",
    n_boot: int = 1000,
    rng: np.random.Generator,
    min_ratio: float = 1.0,
    max_weight: float | None = None,
) -> tuple[float, float, float]:
    """(champion value, challenger value, share of paired resamples in which challenger > min_ratio x champion).

    Both policies are scored on the same resampled impressions, so what they share cancels and the
    probability reflects their difference only. Ties count half, so identical policies give 0.5.
    `dist_champion=None` means the champion is the policy that logged `log` (the usual case when the
    deployed policy's own recent traffic is the evaluation window): its value is the logged mean reward.
    `max_weight` clips DR's importance weights (`_dr_terms`).
    """
    if method not in ("dr", "snipw"):
        raise ValueError(f"improvement_probability supports 'dr' and 'snipw', not {method!r}")
    if dist_champion is None:
        champion = _on_policy_statistic(log)
    else:
        champion = _statistic(method, log, dist_champion, q_hat, max_weight)
    challenger = _statistic(method, log, dist_challenger, q_hat, max_weight)
    full = np.arange(log.n)[None, :]
    champion_value, challenger_value = float(champion(full)[0]), float(challenger(full)[0])
    wins = 0.0
    for indices in _resample_blocks(log.n, n_boot, rng):
        difference = challenger(indices) - min_ratio * champion(indices)
        wins += np.count_nonzero(difference > 0) + 0.5 * np.count_nonzero(difference == 0)
    return champion_value, challenger_value, float(wins / n_boot)


def _on_policy_statistic(log: BanditLog) -> Callable[[np.ndarray], np.ndarray]:
    rewards = log.rewards
    return lambda indices: rewards[indices].mean(axis=1)


def _statistic(
    method: str,
    log: BanditLog,
    action_dist: np.ndarray,
    q_hat: np.ndarray | None,
    max_weight: float | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The estimator as a function of resample indices (m, n) -> m values, for vectorised bootstraps."""
    if method == "ipw":
        terms = _ipw_terms(log, action_dist)
        return lambda indices: terms[indices].mean(axis=1)
    if method == "snipw":
        weights = _importance_weights(log, action_dist)
        weighted_rewards = weights * log.rewards
        return lambda indices: weighted_rewards[indices].sum(axis=1) / weights[indices].sum(axis=1)
    if method == "dr":
        if q_hat is None:
            raise ValueError("dr needs a reward model q_hat")
        terms = _dr_terms(log, action_dist, q_hat, max_weight)
        return lambda indices: terms[indices].mean(axis=1)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def _bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray], n: int, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    return np.concatenate([statistic(indices) for indices in _resample_blocks(n, n_boot, rng)])


def _resample_blocks(n: int, n_boot: int, rng: np.random.Generator):
    if n_boot < 1:
        raise ValueError("n_boot must be positive")
    for start in range(0, n_boot, _BOOTSTRAP_BLOCK):
        yield rng.integers(0, n, size=(min(_BOOTSTRAP_BLOCK, n_boot - start), n), dtype=np.int32)


def _ipw_terms(log: BanditLog, action_dist: np.ndarray) -> np.ndarray:
    return _importance_weights(log, action_dist) * log.rewards


def _dr_terms(
    log: BanditLog, action_dist: np.ndarray, q_hat: np.ndarray, max_weight: float | None = None
) -> np.ndarray:
    """Per impression: the reward model's value of the policy plus the importance-weighted residual. With
    `max_weight`, weights above it are clipped: the residuals of the rare impressions the policy favours
    far more than the logger did are believed only up to that factor (bias toward the reward model
    traded for variance; Su et al. 2020, "Doubly robust off-policy evaluation with shrinkage")."""
    dist = _checked_action_dist(log, action_dist)
    q = np.asarray(q_hat, dtype=float)
    if q.shape != dist.shape:
        raise ValueError(f"q_hat has shape {q.shape}; the action distribution has {dist.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("q_hat must be finite")
    rows = np.arange(log.n)
    weights = dist[rows, log.actions] / log.propensities
    if max_weight is not None:
        weights = np.minimum(weights, max_weight)
    direct = np.sum(dist * q, axis=1)
    return direct + weights * (log.rewards - q[rows, log.actions])


def _importance_weights(log: BanditLog, action_dist: np.ndarray) -> np.ndarray:
    dist = _checked_action_dist(log, action_dist)
    return dist[np.arange(log.n), log.actions] / log.propensities


def _checked_action_dist(log: BanditLog, action_dist: np.ndarray) -> np.ndarray:
    dist = np.asarray(action_dist, dtype=float)
    if dist.ndim != 2 or dist.shape[0] != log.n:
        raise ValueError(f"action_dist must have shape (n={log.n}, K); got {dist.shape}")
    if log.actions.max() >= dist.shape[1]:
        raise ValueError(
            f"a logged action is {log.actions.max()} but the distribution has {dist.shape[1]} actions"
        )
    if not np.all(np.isfinite(dist)) or dist.min() < 0:
        raise ValueError("action_dist must be finite and non-negative")
    if not np.allclose(dist.sum(axis=1), 1.0, atol=_ROW_SUM_TOLERANCE):
        raise ValueError("every row of action_dist must sum to 1")
    return dist
