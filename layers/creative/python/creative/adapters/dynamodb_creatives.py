"""Creatives in DynamoDB: the catalog (what a creative shows and whether it races); its counters live in the
racing state table (`dynamodb_racing_state`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DynamoTable
from creative.creatives import Creative, CreativeStatus
from creative.ports import Page

# Index name: infra/constructs/storage.py declares the same one.
CREATIVES_BY_LINE = "by_business_line"


def creative_from_item(document: dict[str, Any]) -> Creative:
    return Creative.model_validate(document)


class DynamoCreativeRepository:
    def __init__(self, client: Any, table_name: str):
        self._table = DynamoTable(client, table_name)

    def for_business_line(self, business_line: str) -> list[Creative]:
        documents = self._table.all(
            "query",
            IndexName=CREATIVES_BY_LINE,
            KeyConditionExpression="business_line = :bl",
            ExpressionAttributeValues=to_item({":bl": business_line}),
        )
        return [creative_from_item(d) for d in documents]

    def put_new(self, creatives: Sequence[Creative]) -> int:
        return sum(
            self._table.put_if_absent(
                c.model_dump(mode="json"),
                "creative_id",
            )
            for c in creatives
        )

    def set_status(self, creative_id: str, status: CreativeStatus, updated_at: str) -> Creative | None:
        document = self._table.update(
            {"creative_id": creative_id},
            UpdateExpression="SET #st = :st, updated_at = :now",
            ConditionExpression="attribute_exists(creative_id)",
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":st": status.value, ":now": updated_at},
            ReturnValues="ALL_NEW",
        )
        return creative_from_item(document) if document is not None else None

    def set_tags(
        self,
        creative_id: str,
        tags: Sequence[str],
        updated_at: str,
        element_tags: Mapping[str, Sequence[str]] | None = None,
    ) -> bool:
        document = self._table.update(
            {"creative_id": creative_id},
            UpdateExpression="SET tags = :tags, element_tags = :elements, updated_at = :now",
            ConditionExpression="attribute_exists(creative_id)",
            ExpressionAttributeValues={
                ":tags": list(tags),
                ":elements": {k: list(v) for k, v in (element_tags or {}).items()},
                ":now": updated_at,
            },
        )
        return document is not None

    def list(self, *, business_line: str | None, limit: int, next_token: str | None) -> Page[Creative]:
        if business_line:
            items, token = self._table.page(
                "query",
                limit,
                next_token,
                IndexName=CREATIVES_BY_LINE,
                KeyConditionExpression="business_line = :bl",
                ExpressionAttributeValues=to_item({":bl": business_line}),
            )
        else:
            items, token = self._table.page("scan", limit, next_token)
        return Page(items=[creative_from_item(i) for i in items], next_token=token)
