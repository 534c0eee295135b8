"""The quality thresholds, in one place. Each pair is (review at, reject at); None means never.

Image thresholds were calibrated on the real photos of `corpora.photos` and degraded copies of them
(Gaussian blur, noise, JPEG quality 10/30, darkening, brightening): docs/quality.md has the measurements and
out/quality/report.json the precision and recall of each check. A business line may override any of them
(its settings, through the operator API); the spam cut-offs are per line by design.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError, field_validator

from creative.deferred_model import DeferredModel

Cuts = tuple[float | None, float | None]


class QualityPolicy(DeferredModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Images (measures of creative.quality.image_quality). Lower sharpness is worse: the cut-offs are
    # "at or below". Sharpness is the Laplacian variance over the luma variance (brightness-invariant);
    # sharp originals: 5th percentile 0.024; blurred 2 px: median 0.0034; 4 px: 95th percentile 0.0096.
    sharpness: Cuts = (0.02, 0.005)
    # Mean luma at or below: originals' 5th percentile 0.27 (one low-key photo at 0.17); darkened to 30%:
    # median 0.14.
    dark_luma: Cuts = (0.22, 0.1)
    # Mean luma at or above (washed out): originals' 99th percentile 0.75, highest 0.82.
    bright_luma: Cuts = (0.85, None)
    # Share of blown-out pixels at or above: originals' 95th percentile 0.016; brightened 2.5x: median 0.44.
    clipped_bright: Cuts = (0.2, 0.5)
    # Luma standard deviation at or below (a flat, washed-out image).
    contrast: Cuts = (0.05, None)
    # JPEG 8x8 block edges vs the rest: originals' 95th percentile 1.41, quality 30 median 1.53, quality 10
    # 5th percentile 1.67.
    blockiness: Cuts = (1.6, None)
    # Copy form.
    caps_ratio: Cuts = (0.7, None)  # upper-case share of letters, for lines with CAPS_MIN_LETTERS or more
    repeated_punctuation: Cuts = (3, None)  # the longest run of one punctuation mark, e.g. "!!!"
    emoji: Cuts = (4, None)
    # Spam likeness (the spam head's probability), per business line. High on purpose: honest ad copy says
    # "free" and "zero interest" too; at 0.8, 2% of the real non-spam copy goes to review (docs/quality.md).
    spam: Cuts = (0.8, 0.99)
    # Near-duplicates within a business line, whichever measure is worse. Copy: MiniLM cosine of the lines,
    # or the Jaccard share of their canonical words (case, punctuation and listed synonyms folded): the same
    # words in any order are the same line. Images: embedding cosine, or perceptual-hash Hamming distance
    # (at or below).
    copy_similarity: Cuts = (0.9, 0.97)
    copy_word_overlap: Cuts = (0.8, 1.0)
    image_similarity: Cuts = (0.8, 0.9)
    phash_distance: Cuts = (10, 6)

    caps_min_letters: int = Field(default=8, ge=1)
    # Generated copy (creative.generation) waits for an operator before it may be served, when a line asks.
    review_generated_copy: bool = False

    def with_overrides(self, overrides: dict) -> QualityPolicy:
        return self.model_validate({**self.model_dump(), **overrides})


DEFAULT_POLICY = QualityPolicy()


class LinePolicy(DeferredModel):
    """A business line's overrides of the default thresholds, as operators saved them."""

    business_line: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    updated_by: str | None = None
    updated_at: str | None = None

    @field_validator("overrides")
    @classmethod
    def _valid(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        try:
            applied = DEFAULT_POLICY.with_overrides(overrides)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"not a valid quality policy: {problems}") from None
        return {name: getattr(applied, name) for name in overrides}
