"""In-memory fakes of the domain's ports, for unit tests that need no AWS."""

from __future__ import annotations

from collections.abc import Sequence

from creative.creatives import Creative, CreativeStatus
from creative.errors import NotFound
from creative.impressions import ClickOutcome, Impression
from creative.materials import Material, MaterialStatus
from creative.ports import Page


class FakeObjectStore:
    def __init__(self, objects: dict[tuple[str, str], bytes] | None = None):
        self.objects = dict(objects or {})
        self.reads: list[tuple[str, str]] = []

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes | None:
        self.reads.append((bucket, key))
        data = self.objects.get((bucket, key))
        if data is not None and len(data) > max_bytes:
            raise ValueError("over the cap")
        return data

    def exists(self, bucket: str, key: str, version_id: str | None) -> bool:
        return (bucket, key) in self.objects

    def presigned_url(self, bucket: str, key: str, version_id: str | None, expires_s: int) -> str:
        return f"https://{bucket}.example/{key}?expires={expires_s}"


def _page(items: list, limit: int, next_token: str | None) -> Page:
    start = int(next_token or 0)
    end = start + limit
    return Page(items=items[start:end], next_token=str(end) if end < len(items) else None)


class FakeMaterialRepository:
    def __init__(self):
        self.items: dict[str, Material] = {}
        self.claims: dict[tuple[str, str], str] = {}

    def get(self, material_id: str) -> Material | None:
        return self.items.get(material_id)

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


class FakeCreativeRepository:
    def __init__(self):
        self.items: dict[str, Creative] = {}

    def for_business_line(self, business_line: str) -> list[Creative]:
        return [c for c in self.items.values() if c.business_line == business_line]

    def put_new(self, creatives: Sequence[Creative]) -> int:
        new = [c for c in creatives if c.creative_id not in self.items]
        for c in new:
            self.items[c.creative_id] = c.model_copy()
        return len(new)

    def set_status(self, creative_id: str, status: CreativeStatus, updated_at: str) -> Creative | None:
        creative = self.items.get(creative_id)
        if creative is None:
            return None
        creative.status, creative.updated_at = status, updated_at
        return creative

    def list(self, *, business_line, limit, next_token) -> Page[Creative]:
        items = [c for c in self.items.values() if business_line is None or c.business_line == business_line]
        return _page(items, limit, next_token)


class FakeImpressionLog:
    def __init__(self, creatives: FakeCreativeRepository):
        self.creatives = creatives
        self.items: dict[str, Impression] = {}

    def record(self, impression: Impression) -> None:
        self.items[impression.impression_id] = impression
        self.creatives.items[impression.creative_id].impressions += 1

    def record_click(self, impression_id: str, clicked_at: str, now_epoch: int) -> ClickOutcome:
        impression = self.items.get(impression_id)
        if impression is None or impression.expires_at <= now_epoch:
            raise NotFound("unknown or expired")
        if impression.clicked_at:
            return ClickOutcome(impression, counted=False)
        impression.clicked_at = clicked_at
        self.creatives.items[impression.creative_id].clicks += 1
        return ClickOutcome(impression, counted=True)
