"""Impressions: every decision, logged with its context and propensity for training and evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated

from pydantic import Field, StringConstraints

from creative.deferred_model import DeferredModel
from creative.racing.state import LearnerDeltas

# User features are logged as given; bounds keep every value storable (DynamoDB numbers have 38 digits
# and no NaN, items are at most 400 KB) and keep one request from bloating the impression log.
FeatureName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
FeatureValue = (
    bool
    | Annotated[int, Field(ge=-(10**15), le=10**15)]
    | Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
    | Annotated[str, StringConstraints(max_length=256)]
)


class Impression(DeferredModel):
    impression_id: str
    creative_id: str
    business_line: str
    placement: str
    user_id: str
    user_features: dict[FeatureName, FeatureValue] = Field(default_factory=dict)
    candidate_count: int
    # The creative's probability among `candidate_ids` (what off-policy evaluation of creative policies
    # uses); the phrases' choices are independent draws, each with its own, and the combination's
    # probability is the product.
    propensity: float
    element_propensities: dict[str, float] = Field(default_factory=dict)  # phrase slot -> probability
    combination_propensity: float | None = None
    # The racer's exploration floor when it drew this choice: the floor alone drew it with probability
    # (exploration_floor / candidate_count) / propensity. None: logged before the floor was.
    exploration_floor: float | None = None
    policy_version: str
    prior_ctr: float | None = None  # the CTR model's prediction for the chosen creative
    model_version: str | None = None
    # What the policy chose among: off-policy evaluation recomputes other policies' choices over it.
    candidate_ids: list[str] = Field(default_factory=list)
    # Recall strategy -> indexes into candidate_ids it proposed (pins and blocks included: what operators
    # forced in or kept out stays visible to off-policy evaluation).
    recall_sources: dict[str, list[int]] = Field(default_factory=dict)
    elements: dict[str, str] = Field(default_factory=dict)  # phrase slot -> the phrase id served
    # The online learner's update (its shard, time weight and per-key steps): the click writes the rest.
    learner: LearnerDeltas | None = None
    # The API key that asked for it (API Gateway's key id): only that client may report on it.
    client_id: str | None = None
    created_at: str
    expires_at: int  # epoch seconds; DynamoDB TTL removes the row some time after this
    clicked_at: str | None = None
    converted_at: str | None = None
    conversion_value: float | None = None


def reportable(impression: Impression | None, client_id: str | None, now_epoch: int) -> bool:
    """Whether this client may report on the impression: it exists, has not expired, and was served to
    the same API key (another client's impression is as unknown as a missing one)."""
    if impression is None or impression.expires_at <= now_epoch:
        return False
    return impression.client_id is None or impression.client_id == client_id


@dataclass(frozen=True)
class FeedbackOutcome:
    impression: Impression
    counted: bool  # False when this impression's event had already been counted


@dataclass(frozen=True)
class BetaPosterior:
    """A Beta-Bernoulli arm: prior pseudo-counts plus observed clicks and non-clicks."""

    alpha: float
    beta: float

    @classmethod
    def of(
        cls, impressions: int, clicks: int, prior_alpha: float = 1.0, prior_beta: float = 1.0
    ) -> BetaPosterior:
        clicks = max(clicks, 0)
        return cls(prior_alpha + clicks, prior_beta + max(impressions - clicks, 0))

    @classmethod
    def shrunk_to(cls, impressions: float, positives: float, rate: float, strength: float) -> BetaPosterior:
        """Time-weighted evidence shrunk toward `rate`, which counts as `strength` impressions."""
        return cls(
            max(positives, 0.0) + rate * strength, max(impressions - positives, 0.0) + (1.0 - rate) * strength
        )

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def sd(self) -> float:
        total = self.alpha + self.beta
        return math.sqrt(self.alpha * self.beta / (total * total * (total + 1)))

    def interval95(self) -> tuple[float, float]:
        """Normal approximation of the 95% credible interval, clipped to [0, 1]."""
        return max(0.0, self.mean - 1.96 * self.sd), min(1.0, self.mean + 1.96 * self.sd)

    def probability_below(self, rate: float) -> float:
        """P(the true rate < `rate`), in the same normal approximation as the intervals."""
        return NormalDist(self.mean, self.sd).cdf(rate) if self.sd > 0 else float(self.mean < rate)

    def interval(self, level: float) -> tuple[float, float]:
        """Normal approximation of the central credible interval holding `level` of the mass (0.9: 90%),
        clipped to [0, 1]: cheap enough to give every hour of every creative one."""
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return max(0.0, self.mean - z * self.sd), min(1.0, self.mean + z * self.sd)
