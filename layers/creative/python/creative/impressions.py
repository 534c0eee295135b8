"""Impressions: every decision, logged with its context and propensity for training and evaluation."""

from __future__ import annotations

from pydantic import BaseModel, Field

FeatureValue = str | int | float | bool


class Impression(BaseModel):
    impression_id: str
    creative_id: str
    business_line: str
    placement: str
    user_id: str
    user_features: dict[str, FeatureValue] = Field(default_factory=dict)
    candidate_count: int
    propensity: float
    propensity_stderr: float
    policy_version: str
    created_at: str
    expires_at: int  # epoch seconds; DynamoDB TTL removes the row after this
    clicked_at: str | None = None
