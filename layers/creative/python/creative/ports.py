"""The interfaces the domain needs from storage. DynamoDB/S3 adapters implement them; tests use fakes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from creative.creatives import Creative, CreativeStatus
from creative.impressions import FeedbackOutcome, Impression
from creative.materials import Material, MaterialStatus
from creative.quality.compliance import ComplianceList
from creative.quality.policy import LinePolicy, QualityPolicy
from creative.racing.state import CounterTotals, Objective, RacingState
from creative.upload_forms import PresignedPost

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None = None


@dataclass(frozen=True)
class ObjectHead:
    """What S3 says of the current version of a key."""

    version_id: str | None
    etag: str


class ObjectStore(Protocol):
    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes | None:
        """The object's bytes (None when it no longer exists). Raises ValueError past max_bytes."""

    def exists(self, bucket: str, key: str, version_id: str | None) -> bool: ...

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        """The key's current version (None when the key has none: deleted)."""

    def presigned_url(self, bucket: str, key: str, version_id: str | None, expires_s: int) -> str: ...

    def presigned_post(
        self, bucket: str, key: str, content_type: str, max_bytes: int, expires_s: int
    ) -> PresignedPost:
        """A form that uploads exactly this key, of this content type and at most `max_bytes`."""

    def write(self, bucket: str, key: str, data: bytes, content_type: str) -> str | None:
        """Stores the bytes under the key; the new version's id (None in an unversioned bucket)."""


class MaterialRepository(Protocol):
    def get(self, material_id: str) -> Material | None: ...

    def get_many(self, material_ids: Sequence[str]) -> dict[str, Material]:
        """The materials of these ids that exist, by id (one read for a batch)."""

    def put_new(self, material: Material) -> bool:
        """Stores the material unless one with its id exists; False when it already did."""

    def claim_content(self, business_line: str, content_hash: str, material_id: str) -> str:
        """Claims a content hash within a business line for a material; returns the owner (this material
        or an earlier one)."""

    def list(
        self,
        *,
        business_line: str | None,
        status: MaterialStatus | None,
        limit: int,
        next_token: str | None,
        content_hash: str | None = None,
    ) -> Page[Material]: ...

    def admitted(self, business_line: str) -> list[Material]: ...

    def business_lines(self) -> list[str]: ...

    def labelled(self, *, limit: int, next_token: str | None) -> Page[Material]:
        """Materials carrying at least one operator tag label (the heads' next training data)."""

    def update(self, material: Material, *, expected_revision: int) -> Material | None:
        """Replaces the record's mutable fields (tags, labels, tagging, status, reasons) if its revision is
        still `expected_revision`; returns the stored material (revision + 1) or None when it moved on."""


@dataclass(frozen=True)
class TaggedMaterial:
    """One entry of the tag index: a material of a business line that carries a tag."""

    material_id: str
    kind: str
    tag: str
    score: float
    source: str


class TagIndex(Protocol):
    """Business line + tag -> materials: what recall asks."""

    def replace(self, material: Material, previous: Sequence[str]) -> None:
        """Indexes the material under each of its tags and removes it from `previous` tags it lost."""

    def materials(
        self, business_line: str, tag: str, *, limit: int, next_token: str | None
    ) -> Page[TaggedMaterial]: ...


class QualityPolicies(Protocol):
    def policy(self, business_line: str) -> QualityPolicy:
        """The line's thresholds: the defaults with the line's overrides applied."""


class QualityPolicyStore(QualityPolicies, Protocol):
    def overrides(self, business_line: str) -> LinePolicy:
        """What the line overrides (nothing, when it was never set)."""

    def save(self, line_policy: LinePolicy) -> None: ...


class MaterialEvents(Protocol):
    def admitted(self, materials: Sequence[Material]) -> None:
        """Announces admitted materials (tagging listens); raises TransientError when it could not."""


class CreativeRepository(Protocol):
    def for_business_line(self, business_line: str) -> list[Creative]: ...

    def put_new(self, creatives: Sequence[Creative]) -> int:
        """Stores the creatives whose ids are new; returns how many were stored."""

    def set_status(self, creative_id: str, status: CreativeStatus, updated_at: str) -> Creative | None: ...

    def set_tags(
        self,
        creative_id: str,
        tags: Sequence[str],
        updated_at: str,
        element_tags: Mapping[str, Sequence[str]] | None = None,
    ) -> bool:
        """Replaces the creative's tags (the union of its elements') and each element's; False when it no
        longer exists."""

    def list(self, *, business_line: str | None, limit: int, next_token: str | None) -> Page[Creative]: ...


class RacingStateStore(Protocol):
    """Counters and learner statistics per creative and per business line (`creative.racing.state`)."""

    def read(self, business_line: str) -> RacingState:
        """The line's state, every shard summed."""

    def totals(self, creative_ids: Sequence[str]) -> dict[str, CounterTotals]:
        """All-time impressions, clicks, conversions and value of these creatives (absent ones have none)."""

    def set_objective(self, business_line: str, objective: Objective) -> None:
        """What the line's racer optimises from now on."""

    def save_setting(self, business_line: str, name: str, document: dict, *, expected_version: int) -> bool:
        """Saves a racing setting of the line (recall rules, phrase bank) as version expected_version + 1;
        False when the stored version is no longer `expected_version`."""


class ImpressionLog(Protocol):
    def record(self, impression: Impression) -> None:
        """Counts the impression (totals and the learner's serve-time update, on its shard) and stores it."""

    def record_event(
        self,
        impression_id: str,
        event: str,
        at: str,
        now_epoch: int,
        value: float | None = None,
        client_id: str | None = None,
    ) -> FeedbackOutcome:
        """Marks the impression clicked (or converted, with its value) and counts it (totals and, when it is
        the event the line optimises, the learner's update), atomically and once per impression and event.

        Raises NotFound for an unknown or expired impression (or a creative that is gone).
        """

    def since(
        self, start: str, end: str | None = None, *, business_line: str | None = None
    ) -> Iterator[Impression]:
        """Every stored impression created at or after `start` and, when given, before `end` (ISO-8601), in
        no particular order; when `business_line` is given, that line's only."""


@dataclass(frozen=True)
class ModelRef:
    """One stored model artifact: where it is and the hash it must have."""

    name: str
    version: str
    key: str
    sha256: str
    bytes: int


class ModelRegistry(Protocol):
    def active(self, name: str) -> ModelRef | None:
        """The model currently promoted under `name`, if any."""

    def read(self, ref: ModelRef) -> bytes:
        """The artifact's bytes; raises CorruptModel when they do not match the recorded hash."""

    def store(self, name: str, version: str, artifact: bytes) -> ModelRef: ...

    def promote(self, ref: ModelRef, *, replacing: ModelRef | None, report: dict) -> bool:
        """Points `name` at `ref` only if it still points at `replacing`; False when it moved meanwhile."""

    def record_run(self, name: str, report: dict) -> None:
        """Keeps a retraining run's report, keyed by its start: a retried run keeps the first report."""

    def runs(self, name: str, limit: int = 20) -> list[dict]:
        """The latest retraining reports, newest first."""


class ComplianceStore(Protocol):
    """The compliance lists of each business line (and of every line, `*`), versioned."""

    def current(self, business_line: str) -> ComplianceList:
        """The line's current list (an empty version 0 when it has none)."""

    def replace(self, listing: ComplianceList, *, expected_version: int) -> ComplianceList | None:
        """Saves the list as the next version if the current one is still `expected_version`; None if not."""

    def versions(self, business_line: str) -> list[ComplianceList]:
        """Every saved version, newest first."""
