"""Element-level racing of phrases: each phrase slot of a placement is chosen on its own, by Thompson sampling
over the phrase's own time-weighted impressions and positive events, shrunk toward the line's rate.

Factorised on purpose: a phrase's effect is learned from every creative it was shown with, so a bank of 20
phrases next to 200 creatives needs 20 statistics, not 4,000; the combination's probability is the product
of the independent draws, exact like the creative's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from creative.phrase_banks import RenderedPhrase
from creative.racing.racer import gaussian_thompson_probabilities

PRIOR_IMPRESSIONS = 20.0  # the line's rate counts as this many impressions of a new phrase


@dataclass(frozen=True)
class ElementChoice:
    phrase: RenderedPhrase
    propensity: float


def beta_moments(
    impressions: np.ndarray,
    positives: np.ndarray,
    prior_rate: float,
    prior_impressions: float = PRIOR_IMPRESSIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each element's Beta posterior of its rate."""
    alpha = np.maximum(positives, 0.0) + prior_rate * prior_impressions
    beta = np.maximum(impressions - positives, 0.0) + (1.0 - prior_rate) * prior_impressions
    total = alpha + beta
    return alpha / total, np.sqrt(alpha * beta / (total * total * (total + 1.0)))


def element_probabilities(
    stats: Sequence[tuple[float, float]], prior_rate: float, exploration_floor: float, grid_points: int = 128
) -> np.ndarray:
    impressions = np.array([s[0] for s in stats], dtype=np.float64)
    positives = np.array([s[1] for s in stats], dtype=np.float64)
    mean, sd = beta_moments(impressions, positives, prior_rate)
    thompson = gaussian_thompson_probabilities(mean, sd, grid_points)
    return (1.0 - exploration_floor) * thompson + exploration_floor / len(thompson)


def choose_phrase(
    rendered: Sequence[RenderedPhrase],
    stats: Mapping[str, tuple[float, float]],
    *,
    prior_rate: float,
    exploration_floor: float,
    rng: np.random.Generator,
) -> ElementChoice | None:
    if not rendered:
        return None
    probabilities = element_probabilities(
        [stats.get(p.phrase_id, (0.0, 0.0)) for p in rendered], prior_rate, exploration_floor
    )
    index = int(np.searchsorted(np.cumsum(probabilities), rng.random() * probabilities.sum()))
    index = min(index, len(rendered) - 1)
    return ElementChoice(rendered[index], float(probabilities[index]))
