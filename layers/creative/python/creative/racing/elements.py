"""Element-level racing: each slot of a placement is chosen on its own, by Thompson sampling over the element's
own time-weighted impressions and positive events, shrunk toward the line's rate. Phrase slots always race
this way; on a line whose template races elements (`creative.line_templates`), images and headlines too.

Factorised on purpose: an element's effect is learned from every combination it was shown in, so 30 images
× 200 headlines × 20 phrases × 5 calls to action need 255 statistics, not 600,000, and the space is never
enumerated. The combination's probability is the product of the independent draws, exact like a creative's.
With main effects only, each slot's best element does not depend on the others, so independent draws are
Thompson sampling of the sum of element effects.
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


@dataclass(frozen=True)
class ElementOdds:
    """One slot's elements and the probability of each, computed once per read of the line's state: the
    statistics do not change between reads, so a select only draws (O(log n))."""

    ids: tuple[str, ...]
    probabilities: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def of(
        cls,
        ids: Sequence[str],
        stats: Mapping[str, tuple[float, float]],
        *,
        prior_rate: float,
        exploration_floor: float,
    ) -> ElementOdds:
        probabilities = element_probabilities(
            [stats.get(i, (0.0, 0.0)) for i in ids], prior_rate, exploration_floor
        )
        return cls(tuple(ids), probabilities, np.cumsum(probabilities))

    @classmethod
    def with_probabilities(cls, ids: Sequence[str], probabilities: np.ndarray) -> ElementOdds:
        return cls(tuple(ids), probabilities, np.cumsum(probabilities))

    def draw(self, rng: np.random.Generator) -> tuple[int, float]:
        """An element's index and the exact probability it had."""
        index = int(np.searchsorted(self.cumulative, rng.random() * self.cumulative[-1]))
        index = min(index, len(self.ids) - 1)
        return index, float(self.probabilities[index])
