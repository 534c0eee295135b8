"""In-memory implementations of the domain's ports.

Unit tests use them instead of AWS, and the evaluation simulator runs the very racing services select and
retraining run, over these instead of DynamoDB and S3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

from creative.creatives import Creative, CreativeStatus
from creative.errors import CorruptModel, NotFound
from creative.impressions import FeedbackOutcome, Impression, reportable
from creative.materials import Material, MaterialStatus
from creative.ports import ModelRef, ObjectHead, Page, TaggedMaterial
from creative.quality.compliance import ComplianceList
from creative.quality.near_duplicates import IndexedFingerprint
from creative.quality.policy import DEFAULT_POLICY, LinePolicy, QualityPolicy
from creative.racing.state import (
    CounterTotals,
    RacingState,
    StateWrite,
    event_writes,
    of_items,
    serve_writes,
)
from creative.upload_forms import PresignedPost


class InMemoryObjectStore:
    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None):
        self.objects = dict(objects or {})
        self.versions: dict[tuple[str, str], str] = {}
        self.etags: dict[tuple[str, str], str] = {}
        self.content_types: dict[tuple[str, str], str] = {}
        self.reads: list[tuple[str, str]] = []

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes | None:
        self.reads.append((bucket, key))
        data = self.objects.get((bucket, key))
        if data is not None and len(data) > max_bytes:
            raise ValueError("over the cap")
        return data

    def exists(self, bucket: str, key: str, version_id: str | None) -> bool:
        return (bucket, key) in self.objects

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        """The current version of a key: `versions` names it when a test re-uploads, else None (the
        material's own etag is compared then, so tests set `etags` alongside)."""
        if (bucket, key) not in self.objects:
            return None
        return ObjectHead(self.versions.get((bucket, key)), self.etags.get((bucket, key), ""))

    def presigned_url(self, bucket: str, key: str, version_id: str | None, expires_s: int) -> str:
        return f"https://{bucket}.example/{key}?expires={expires_s}"

    def presigned_post(
        self, bucket: str, key: str, content_type: str, max_bytes: int, expires_s: int
    ) -> PresignedPost:
        return PresignedPost(
            url=f"https://{bucket}.example/",
            fields={"key": key, "Content-Type": content_type, "policy": f"max={max_bytes};ttl={expires_s}"},
        )

    def write(self, bucket: str, key: str, data: bytes, content_type: str) -> str | None:
        self.objects[(bucket, key)] = bytes(data)
        self.content_types[(bucket, key)] = content_type
        return self.versions.get((bucket, key))


def _page(items: list, limit: int, next_token: str | None) -> Page:
    start = int(next_token or 0)
    end = start + limit
    return Page(items=items[start:end], next_token=str(end) if end < len(items) else None)


class InMemoryMaterialRepository:
    def __init__(self):
        self.items: dict[str, Material] = {}
        self.claims: dict[tuple[str, str], str] = {}

    def get(self, material_id: str) -> Material | None:
        material = self.items.get(material_id)
        return material.model_copy(deep=True) if material else None

    def get_many(self, material_ids) -> dict[str, Material]:
        return {i: m for i in material_ids if (m := self.get(i)) is not None}

    def put_new(self, material: Material) -> bool:
        if material.material_id in self.items:
            return False
        self.items[material.material_id] = material.model_copy(deep=True)
        return True

    def claim_content(self, business_line: str, content_hash: str, material_id: str) -> str:
        return self.claims.setdefault((business_line, content_hash), material_id)

    def list(self, *, business_line, status, limit, next_token, content_hash=None) -> Page[Material]:
        items = [
            m
            for m in self.items.values()
            if (business_line is None or m.business_line == business_line)
            and (status is None or m.status == status)
            and (content_hash is None or m.content_hash == content_hash)
        ]
        return _page(items, limit, next_token)

    def admitted(self, business_line: str) -> list[Material]:
        return [
            m
            for m in self.items.values()
            if m.business_line == business_line and m.status is MaterialStatus.ADMITTED
        ]

    def business_lines(self) -> list[str]:
        return sorted({m.business_line for m in self.items.values() if m.status is MaterialStatus.ADMITTED})

    def labelled(self, *, limit: int, next_token: str | None) -> Page[Material]:
        return _page([m for m in self.items.values() if m.tag_labels], limit, next_token)

    def update(self, material: Material, *, expected_revision: int) -> Material | None:
        current = self.items.get(material.material_id)
        if current is None or current.revision != expected_revision:
            return None
        stored = material.model_copy(update={"revision": expected_revision + 1}, deep=True)
        self.items[material.material_id] = stored
        return stored.model_copy(deep=True)


class InMemoryCreativeRepository:
    def __init__(self):
        self.items: dict[str, Creative] = {}

    def for_business_line(self, business_line: str) -> list[Creative]:
        return [c for c in self.items.values() if c.business_line == business_line]

    def put_new(self, creatives: Sequence[Creative]) -> int:
        new = [c for c in creatives if c.creative_id not in self.items]
        for c in new:
            self.items[c.creative_id] = c.model_copy(deep=True)
        return len(new)

    def set_status(self, creative_id: str, status: CreativeStatus, updated_at: str) -> Creative | None:
        creative = self.items.get(creative_id)
        if creative is None:
            return None
        creative.status, creative.updated_at = status, updated_at
        return creative

    def set_tags(self, creative_id: str, tags: Sequence[str], updated_at: str, element_tags=None) -> bool:
        creative = self.items.get(creative_id)
        if creative is None:
            return False
        creative.tags, creative.updated_at = list(tags), updated_at
        creative.element_tags = {k: list(v) for k, v in (element_tags or {}).items()}
        return True

    def list(self, *, business_line, limit, next_token) -> Page[Creative]:
        items = [c for c in self.items.values() if business_line is None or c.business_line == business_line]
        return _page(items, limit, next_token)


class InMemoryRacingState:
    """Shard items as DynamoDB holds them: (creative id, shard) -> counters. Each creative's shards are also
    kept summed, so a read costs what the line holds, not every shard."""

    def __init__(self):
        self.items: dict[tuple[str, int], dict[str, float]] = {}
        self._merged: dict[str, dict[str, float]] = {}
        self._by_line: dict[str, set[str]] = {}
        self.objectives: dict[str, str] = {}
        self.settings: dict[str, dict[str, dict]] = {}  # line -> setting name -> document
        self.reads = 0

    def set_objective(self, business_line: str, objective: str) -> None:
        self.objectives[business_line] = objective

    def save_setting(self, business_line: str, name: str, document: dict, *, expected_version: int) -> bool:
        line = self.settings.setdefault(business_line, {})
        if line.get(name, {}).get("version", 0) != expected_version:
            return False
        line[name] = {**document, "version": expected_version + 1}
        return True

    def apply(self, state_id: str, business_line: str, shard: int, write: StateWrite, totals: dict) -> None:
        item = self.items.setdefault((state_id, shard), {})
        merged = self._merged.setdefault(state_id, {})
        self._by_line.setdefault(business_line, set()).add(state_id)
        for name in write.stale:
            merged[name] = merged.get(name, 0.0) - item.pop(name, 0.0)
            if not merged[name]:
                del merged[name]
        for name, value in {**write.values, **totals}.items():
            item[name] = item.get(name, 0.0) + value
            merged[name] = merged.get(name, 0.0) + value

    def read(self, business_line: str) -> RacingState:
        self.reads += 1
        return of_items(
            business_line,
            {cid: self._merged[cid] for cid in self._by_line.get(business_line, ())},
            self.objectives.get(business_line, "ctr"),
            self.settings.get(business_line, {}),
        )

    def totals(self, creative_ids: Sequence[str]) -> dict[str, CounterTotals]:
        return {cid: CounterTotals.of(self._merged[cid]) for cid in creative_ids if cid in self._merged}


class InMemoryImpressionLog:
    def __init__(self, creatives: InMemoryCreativeRepository, state: InMemoryRacingState | None = None):
        self.creatives = creatives
        self.state = state or InMemoryRacingState()
        self.items: dict[str, Impression] = {}

    def _apply(self, impression: Impression, writes, totals: dict) -> None:
        deltas = impression.learner
        shard = deltas.shard if deltas else 0
        write = writes(deltas) if deltas else StateWrite({}, [])
        state_id = (deltas.state_id if deltas else None) or impression.creative_id
        self.state.apply(state_id, impression.business_line, shard, write, totals)

    def record(self, impression: Impression) -> None:
        self._apply(impression, serve_writes, {"impressions": 1})
        self.items[impression.impression_id] = impression

    def record_event(
        self,
        impression_id: str,
        event: str,
        at: str,
        now_epoch: int,
        value: float | None = None,
        client_id: str | None = None,
    ) -> FeedbackOutcome:
        impression = self.items.get(impression_id)
        if impression is None or not reportable(impression, client_id, now_epoch):
            raise NotFound("unknown or expired")
        if (impression.clicked_at if event == "click" else impression.converted_at) is not None:
            return FeedbackOutcome(impression, counted=False)
        if event == "click":
            impression.clicked_at = at
            totals = {"clicks": 1}
        else:
            impression.converted_at, impression.conversion_value = at, value
            totals = {"conversions": 1, "value": value or 0.0}
        self._apply(impression, lambda d: event_writes(d, event), totals)
        return FeedbackOutcome(impression, counted=True)

    def since(
        self, start: str, end: str | None = None, *, business_line: str | None = None
    ) -> Iterator[Impression]:
        # ISO-8601 UTC strings of one format sort as time does.
        return iter(
            [
                i
                for i in self.items.values()
                if start <= i.created_at
                and (end is None or i.created_at < end)
                and (business_line is None or i.business_line == business_line)
            ]
        )


class InMemoryModelRegistry:
    def __init__(self):
        self.artifacts: dict[str, bytes] = {}
        self.pointers: dict[str, ModelRef] = {}
        self.reports: dict[tuple[str, str], dict] = {}

    def active(self, name: str) -> ModelRef | None:
        return self.pointers.get(name)

    def read(self, ref: ModelRef) -> bytes:
        data = self.artifacts.get(ref.key)
        if data is None:
            raise NotFound(f"{ref.key} does not exist")
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise CorruptModel(f"{ref.key} does not match its recorded sha256")
        return data

    def store(self, name: str, version: str, artifact: bytes) -> ModelRef:
        key = f"models/{name}/{version}.onnx"
        self.artifacts[key] = bytes(artifact)
        return ModelRef(name, version, key, hashlib.sha256(artifact).hexdigest(), len(artifact))

    def promote(self, ref: ModelRef, *, replacing: ModelRef | None, report: dict) -> bool:
        if self.pointers.get(ref.name) != replacing:
            return False
        self.pointers[ref.name] = ref
        return True

    def record_run(self, name: str, report: dict) -> None:
        self.reports.setdefault((name, report["started_at"]), report)

    def runs(self, name: str, limit: int = 20) -> list[dict]:
        mine = sorted((k[1], r) for k, r in self.reports.items() if k[0] == name)
        return [r for _, r in reversed(mine)][:limit]


class InMemoryTagIndex:
    def __init__(self):
        self.entries: dict[
            tuple[str, str], dict[str, TaggedMaterial]
        ] = {}  # (line, tag) -> material -> entry

    def replace(self, material: Material, previous: Sequence[str]) -> None:
        for tag in set(previous) - set(material.tag_ids):
            self.entries.get((material.business_line, tag), {}).pop(material.material_id, None)
        for t in material.tags:
            self.entries.setdefault((material.business_line, t.tag), {})[material.material_id] = (
                TaggedMaterial(
                    material.material_id,
                    material.kind.value if material.kind else "unknown",
                    t.tag,
                    t.score,
                    t.source,
                )
            )

    def materials(
        self, business_line: str, tag: str, *, limit: int, next_token: str | None
    ) -> Page[TaggedMaterial]:
        found = sorted(self.entries.get((business_line, tag), {}).values(), key=lambda e: e.material_id)
        return _page(found, limit, next_token)


class InMemoryMaterialEvents:
    def __init__(self):
        self.announced: list[str] = []

    def admitted(self, materials: Sequence[Material]) -> None:
        self.announced.extend(m.material_id for m in materials)


class InMemoryComplianceLists:
    def __init__(self, *lists: ComplianceList):
        self.lists = {listing.business_line: listing for listing in lists}
        self.history: list[ComplianceList] = list(lists)

    def current(self, business_line: str) -> ComplianceList:
        return self.lists.get(business_line) or ComplianceList(business_line=business_line)

    def replace(self, listing: ComplianceList, *, expected_version: int) -> ComplianceList | None:
        if self.current(listing.business_line).version != expected_version:
            return None
        stored = listing.model_copy(update={"version": expected_version + 1})
        self.lists[listing.business_line] = stored
        self.history.append(stored)
        return stored

    def versions(self, business_line: str) -> list[ComplianceList]:
        return [listing for listing in reversed(self.history) if listing.business_line == business_line]


class InMemorySimilarityIndex:
    def __init__(self):
        self.buckets: dict[str, dict[str, IndexedFingerprint]] = {}
        self.lookups: list[int] = []  # entries read per candidates() call

    def candidates(self, scope: str, keys: Sequence[str]) -> list[IndexedFingerprint]:
        found: dict[str, IndexedFingerprint] = {}
        read = 0
        for key in keys:
            bucket = self.buckets.get(f"{scope}#{key}", {})
            read += len(bucket)
            for material_id, entry in bucket.items():
                found.setdefault(material_id, entry)
        self.lookups.append(read)
        return list(found.values())

    def add(self, scope: str, keys: Sequence[str], entry: IndexedFingerprint) -> None:
        for key in keys:
            self.buckets.setdefault(f"{scope}#{key}", {})[entry.material_id] = entry

    def remove(self, scope: str, keys: Sequence[str], material_id: str) -> None:
        for key in keys:
            self.buckets.get(f"{scope}#{key}", {}).pop(material_id, None)

    def material_ids(self) -> set[str]:
        return {material_id for bucket in self.buckets.values() for material_id in bucket}


class InMemoryQualityPolicies:
    def __init__(self, *line_policies: LinePolicy, defaults: QualityPolicy = DEFAULT_POLICY):
        self.lines = {p.business_line: p for p in line_policies}
        self._defaults = defaults

    def overrides(self, business_line: str) -> LinePolicy:
        return self.lines.get(business_line) or LinePolicy(business_line=business_line)

    def policy(self, business_line: str) -> QualityPolicy:
        return self._defaults.with_overrides(self.overrides(business_line).overrides)

    def save(self, line_policy: LinePolicy) -> None:
        self.lines[line_policy.business_line] = line_policy
