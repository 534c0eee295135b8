"""The tag index in DynamoDB: one item per (business line, tag, material), what recall queries."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DynamoTable
from creative.materials import Material
from creative.ports import Page, TaggedMaterial


def line_tag(business_line: str, tag: str) -> str:
    return f"{business_line}#{tag}"


class DynamoTagIndex:
    """Items keyed by `line_tag` ("<business line>#<tag>") and `material_id`, carrying kind and score."""

    def __init__(self, client: Any, table_name: str, *, sleep=time.sleep):
        self._table = DynamoTable(client, table_name)
        self._sleep = sleep

    def replace(self, material: Material, previous: Sequence[str]) -> None:
        puts = [
            {
                "PutRequest": {
                    "Item": to_item(
                        {
                            "line_tag": line_tag(material.business_line, t.tag),
                            "material_id": material.material_id,
                            "tag": t.tag,
                            "kind": material.kind.value if material.kind else "unknown",
                            "score": t.score,
                            "source": t.source,
                        }
                    )
                }
            }
            for t in material.tags
        ]
        gone = sorted(set(previous) - set(material.tag_ids))
        deletes = [
            {
                "DeleteRequest": {
                    "Key": to_item(
                        {
                            "line_tag": line_tag(material.business_line, tag),
                            "material_id": material.material_id,
                        }
                    )
                }
            }
            for tag in gone
        ]
        self._table.batch_write(puts + deletes, sleep=self._sleep)

    def materials(
        self, business_line: str, tag: str, *, limit: int, next_token: str | None
    ) -> Page[TaggedMaterial]:
        items, token = self._table.page(
            "query",
            limit,
            next_token,
            KeyConditionExpression="line_tag = :lt",
            ExpressionAttributeValues=to_item({":lt": line_tag(business_line, tag)}),
        )
        return Page(
            items=[
                TaggedMaterial(i["material_id"], i["kind"], i["tag"], float(i["score"]), i["source"])
                for i in items
            ],
            next_token=token,
        )
