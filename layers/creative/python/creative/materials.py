"""Materials: the images and copy lines operators upload, each admitted or rejected with reasons."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import Field

from creative.deferred_model import DeferredModel
from creative.tags import MaterialTag, TaggingState, TagLabel


class MaterialKind(StrEnum):
    IMAGE = "image"
    COPY = "copy"


class MaterialStatus(StrEnum):
    ADMITTED = "ADMITTED"
    NEEDS_REVIEW = "NEEDS_REVIEW"  # a borderline score: an operator admits or rejects it
    REJECTED = "REJECTED"


class ReasonCode(StrEnum):
    """Machine-readable reasons for a rejection or a review; operators and dashboards group by these."""

    BAD_KEY_LAYOUT = "bad_key_layout"
    FORMAT_NOT_ALLOWED = "format_not_allowed"
    CONTENT_TYPE_MISMATCH = "content_type_mismatch"
    TOO_MANY_BYTES = "too_many_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    ANIMATED_IMAGE = "animated_image"
    RESOLUTION_TOO_LOW = "resolution_too_low"
    CORRUPT_IMAGE = "corrupt_image"
    OBJECT_MISSING = "object_missing"
    INVALID_UTF8 = "invalid_utf8"
    COPY_EMPTY = "copy_empty"
    COPY_TOO_MANY_LINES = "copy_too_many_lines"
    COPY_TOO_SHORT = "copy_too_short"
    COPY_TOO_LONG = "copy_too_long"
    GENERATED_COPY_REVIEW = "generated_copy_review"
    COPY_INVALID_CHARACTERS = "copy_invalid_characters"
    COPY_MALFORMED_LINE = "copy_malformed_line"
    DUPLICATE_CONTENT = "duplicate_content"
    NEAR_DUPLICATE = "near_duplicate"
    # Image quality
    IMAGE_BLURRY = "image_blurry"
    IMAGE_UNDEREXPOSED = "image_underexposed"
    IMAGE_OVEREXPOSED = "image_overexposed"
    IMAGE_LOW_CONTRAST = "image_low_contrast"
    IMAGE_COMPRESSION_ARTIFACTS = "image_compression_artifacts"
    NO_PLACEMENT_FITS = "no_placement_fits"
    # Copy form and compliance
    COPY_ALL_CAPS = "copy_all_caps"
    COPY_REPEATED_PUNCTUATION = "copy_repeated_punctuation"
    COPY_TOO_MANY_EMOJI = "copy_too_many_emoji"
    COPY_DIGITS_ONLY = "copy_digits_only"
    COPY_CONTAINS_URL = "copy_contains_url"
    COPY_CONTAINS_PHONE = "copy_contains_phone"
    COPY_BANNED_CLAIM = "copy_banned_claim"
    COPY_REGULATED_TERM = "copy_regulated_term"
    COPY_COMPETITOR_NAME = "copy_competitor_name"
    COPY_SPAM_LIKE = "copy_spam_like"
    # A check that could not be run: never a silent pass
    NOT_JUDGED = "not_judged"
    # An operator's decision on review
    OPERATOR_DECISION = "operator_decision"


# Reasons the model checks in the tagging function give; a new tagger version replaces them.
MODEL_REASONS = frozenset({ReasonCode.COPY_SPAM_LIKE, ReasonCode.NEAR_DUPLICATE, ReasonCode.NOT_JUDGED})


class Reason(DeferredModel):
    code: ReasonCode
    detail: str
    score: float | None = Field(default=None, description="The measurement the decision was made on, if any.")
    verdict: Literal["review", "reject"] = Field(
        default="reject", description="What the reason decided: send to review, or reject."
    )


# Where images are kept as users are shown them (beside the uploads, outside the prefix that triggers
# admission): `served/<business line>/<material id>.<ext>`.
SERVED_PREFIX = "served/"
# Provenance records of generated copy (creative.generation); outside uploads/, so admission never reads them.
GENERATED_PREFIX = "generated/"


class SourceObject(DeferredModel):
    """Where a material came from: the exact object version, and the line for copy files."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    line: int | None = None  # 1-based line number in a copy file


class QualityScores(DeferredModel):
    """What the quality checks measured, kept whatever they decided: operators see why, and the CTR model
    reads them as creative features."""

    sharpness: float | None = None
    mean_luma: float | None = None
    contrast: float | None = None
    clipped_bright: float | None = None
    blockiness: float | None = None
    caps_ratio: float | None = None
    spam: float | None = None
    near_duplicate_of: str | None = None
    near_duplicate_similarity: float | None = None


class Decision(DeferredModel):
    """One operator decision on a material: who, when, what and why (the audit trail)."""

    by: str
    at: str
    from_status: MaterialStatus
    to_status: MaterialStatus
    comment: str = Field(min_length=1, max_length=500)


class ImageFacts(DeferredModel):
    format: Literal["PNG", "JPEG", "WEBP"]
    width: int  # as displayed, after EXIF orientation
    height: int
    mode: str  # Pillow's mode: RGB, RGBA, L, CMYK, I;16, ...
    exif_orientation: int = 1


class Material(DeferredModel):
    material_id: str
    kind: MaterialKind | None = None  # None when the object's kind could not be told
    status: MaterialStatus
    reasons: list[Reason] = Field(default_factory=list)
    business_line: str
    category: str
    source: SourceObject
    # An image's served rendition: upright, re-encoded without metadata (creatives show this, never the
    # operator's original with its EXIF and GPS). None for copy, and for images that were never admissible.
    served: SourceObject | None = None
    content_hash: str | None = None
    duplicate_of: str | None = None
    image: ImageFacts | None = None
    text: str | None = None
    quality: QualityScores = Field(default_factory=QualityScores)
    placements: list[str] = Field(default_factory=list, description="The placements an image fits.")
    decisions: list[Decision] = Field(default_factory=list)
    # Effective tags (the tagger's, as operators corrected them), every operator label, and the last tagging.
    tags: list[MaterialTag] = Field(default_factory=list)
    tag_labels: list[TagLabel] = Field(default_factory=list)
    tagging: TaggingState | None = None
    # Bumped by every change after admission: concurrent editors (tagging, operators) write conditionally.
    revision: int = 0
    created_at: str

    @property
    def tag_ids(self) -> list[str]:
        return [t.tag for t in self.tags]


def material_id_for(source: SourceObject) -> str:
    """Deterministic id from the object identity (and line), so reprocessing an event finds the same record."""
    identity = f"{source.bucket}/{source.key}@{source.version_id or source.etag}#{source.line or 0}"
    return "mat_" + hashlib.sha256(identity.encode()).hexdigest()[:24]


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_copy(text: str) -> str:
    """The form two copy lines are compared in: case-folded, whitespace collapsed."""
    return " ".join(text.casefold().split())


def hash_copy(text: str) -> str:
    return hashlib.sha256(normalise_copy(text).encode()).hexdigest()
