"""Materials in DynamoDB: one item per material, plus the content-hash claims that make duplicates atomic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DynamoTable
from creative.materials import Material, MaterialStatus
from creative.ports import Page

# Index names: infra/constructs/storage.py declares the same ones (a template test checks they agree).
MATERIALS_BY_LINE_STATUS = "by_business_line_status"
MATERIALS_BY_CONTENT_HASH = "by_content_hash"
_CONTENT_CLAIM_PREFIX = "content#"


class DynamoMaterialRepository:
    """Materials keyed by material_id, plus `content#<line>#<hash>` claim items.

    Claim items carry no `line_status`, so they never appear in the business-line index or in listings.
    """

    def __init__(self, client: Any, table_name: str):
        self._table = DynamoTable(client, table_name)

    @staticmethod
    def _document(material: Material) -> dict[str, Any]:
        document = material.model_dump(mode="json")
        document["line_status"] = f"{material.business_line}#{material.status.value}"
        return document

    @staticmethod
    def _material(document: dict[str, Any]) -> Material:
        document.pop("line_status", None)
        return Material.model_validate(document)

    def get(self, material_id: str) -> Material | None:
        if material_id.startswith(_CONTENT_CLAIM_PREFIX):
            return None
        document = self._table.get({"material_id": material_id})
        return self._material(document) if document else None

    def get_many(self, material_ids: Sequence[str]) -> dict[str, Material]:
        ids = [i for i in dict.fromkeys(material_ids) if not i.startswith(_CONTENT_CLAIM_PREFIX)]
        documents = self._table.batch_get([{"material_id": i} for i in ids])
        return {d["material_id"]: self._material(d) for d in documents}

    def put_new(self, material: Material) -> bool:
        return self._table.put_if_absent(self._document(material), "material_id")

    def labelled(self, *, limit: int, next_token: str | None) -> Page[Material]:
        """A scan of materials with operator labels: operators label few materials, and the export that
        reads this runs rarely, off the serving path. attribute_exists first: content claims and older
        records have no labels, and moto fails the whole scan on size() of a missing attribute (AWS says
        false)."""
        items, token = self._table.page(
            "scan",
            limit,
            next_token,
            FilterExpression="attribute_exists(tag_labels) AND size(tag_labels) > :none",
            ExpressionAttributeValues=to_item({":none": 0}),
        )
        return Page(items=[self._material(i) for i in items], next_token=token)

    def update(self, material: Material, *, expected_revision: int) -> Material | None:
        stored = material.model_copy(update={"revision": expected_revision + 1})
        # Records written before revisions existed have none: they count as revision 0.
        unchanged = (
            "#rev = :expected" if expected_revision else "(attribute_not_exists(#rev) OR #rev = :expected)"
        )
        written = self._table.put(
            self._document(stored),
            condition=f"attribute_exists(material_id) AND {unchanged}",
            names={"#rev": "revision"},
            values={":expected": expected_revision},
        )
        return stored if written else None

    def claim_content(self, business_line: str, content_hash: str, material_id: str) -> str:
        claim = {
            "material_id": f"{_CONTENT_CLAIM_PREFIX}{business_line}#{content_hash}",
            "owner": material_id,
        }
        if self._table.put_if_absent(claim, "material_id"):
            return material_id
        existing = self._table.get({"material_id": claim["material_id"]}, consistent=True)
        return existing["owner"] if existing else material_id

    def list(
        self,
        *,
        business_line: str | None,
        status: MaterialStatus | None,
        limit: int,
        next_token: str | None,
        content_hash: str | None = None,
    ) -> Page[Material]:
        if content_hash:
            items, token = self._table.page(
                "query",
                limit,
                next_token,
                IndexName=MATERIALS_BY_CONTENT_HASH,
                KeyConditionExpression="content_hash = :h",
                ExpressionAttributeValues=to_item({":h": content_hash}),
            )
        elif business_line and status:
            items, token = self._table.page(
                "query",
                limit,
                next_token,
                IndexName=MATERIALS_BY_LINE_STATUS,
                KeyConditionExpression="line_status = :ls",
                ExpressionAttributeValues=to_item({":ls": f"{business_line}#{status.value}"}),
                ScanIndexForward=False,
            )
        else:
            items, token = self._scan_page(business_line, status, limit, next_token)
        return Page(items=[self._material(i) for i in items], next_token=token)

    def _scan_page(
        self, business_line: str | None, status: MaterialStatus | None, limit: int, next_token: str | None
    ) -> tuple[list[dict], str | None]:
        """Partial filters scan the business-line index (claims are not in it). `Limit` counts items read,
        not items kept, so a page can hold fewer than `limit` items and still carry a token."""
        filters, values = [], {}
        if business_line:
            filters.append("business_line = :bl")
            values[":bl"] = business_line
        if status:
            filters.append("#st = :st")
            values[":st"] = status.value
        kwargs: dict[str, Any] = {"IndexName": MATERIALS_BY_LINE_STATUS}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
            kwargs["ExpressionAttributeValues"] = to_item(values)
        if status:
            kwargs["ExpressionAttributeNames"] = {"#st": "status"}
        return self._table.page("scan", limit, next_token, **kwargs)

    def admitted(self, business_line: str) -> list[Material]:
        documents = self._table.all(
            "query",
            IndexName=MATERIALS_BY_LINE_STATUS,
            KeyConditionExpression="line_status = :ls",
            ExpressionAttributeValues=to_item({":ls": f"{business_line}#{MaterialStatus.ADMITTED.value}"}),
        )
        return [self._material(d) for d in documents]

    def business_lines(self) -> list[str]:
        documents = self._table.all(
            "scan", IndexName=MATERIALS_BY_LINE_STATUS, ProjectionExpression="line_status"
        )
        suffix = "#" + MaterialStatus.ADMITTED.value
        return sorted(
            {d["line_status"][: -len(suffix)] for d in documents if d["line_status"].endswith(suffix)}
        )
