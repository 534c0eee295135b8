"""Racing state in DynamoDB: one item per (creative id, shard), and "line:<business line>" for the line's
settings: its objective on shard "0", each saved setting document (recall rules, phrase bank) on shard
"setting:<name>" (JSON, with its version for optimistic saves).

Counters and learner statistics are top-level numeric attributes, so an impression or a click is one ADD
on one item whatever it touches (the line's shared statistics ride on the creative's item:
`creative.racing.state`); the `by_business_line` index returns every shard of a line in one query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import error_code, translated_errors
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DYNAMODB, DynamoTable
from creative.racing.state import CounterTotals, Objective, RacingState, StateWrite, merge, of_items

# Index name: infra/constructs/storage.py declares the same one.
STATE_BY_LINE = "by_business_line"
_KEYS = ("state_id", "shard", "business_line", "objective")
SETTING_SHARD = "setting:"


def line_state_id(business_line: str) -> str:
    return f"line:{business_line}"


# DynamoDB refuses an expression string longer than 4 KB (its constraints page; moto does not check, so the
# local runtime's moto_gaps does). The learner bounds the keys of one write (`LearnerConfig.max_tags`).
MAX_EXPRESSION_BYTES = 4096
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _placeholder(index: int) -> str:
    """A short placeholder suffix (base 36): an ADD costs 9 characters of the expression, not 13."""
    digits = ""
    while True:
        index, digit = divmod(index, 36)
        digits = _DIGITS[digit] + digits
        if index == 0:
            return digits


def state_update(
    table: str, state_id: str, shard: int, business_line: str, write: StateWrite, totals: dict[str, int]
) -> dict[str, Any]:
    """The UpdateItem of one shard: ADD every statistic and total, REMOVE the same stems two epochs back."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":line": business_line}
    adds = []
    for i, (name, amount) in enumerate({**write.values, **totals}.items()):
        suffix = _placeholder(i)
        names[f"#{suffix}"] = name
        values[f":{suffix}"] = amount
        adds.append(f"#{suffix} :{suffix}")
    removes = []
    for i, name in enumerate(write.stale, start=len(adds)):
        suffix = _placeholder(i)
        names[f"#{suffix}"] = name
        removes.append(f"#{suffix}")
    expression = "SET business_line = :line ADD " + ", ".join(adds)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    if len(expression) > MAX_EXPRESSION_BYTES:  # a bug in the learner's bounds: never sent to be refused
        raise ValueError(f"a racing write of {len(names)} counters needs a {len(expression)}-byte expression")
    return {
        "TableName": table,
        "Key": to_item({"state_id": state_id, "shard": str(shard)}),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item(values),
    }


class DynamoRacingState:
    def __init__(self, client: Any, table_name: str):
        self._table = DynamoTable(client, table_name)

    @property
    def name(self) -> str:
        return self._table.name

    def read(self, business_line: str) -> RacingState:
        creatives: dict[str, list[dict[str, float]]] = {}
        objective: Objective = "ctr"
        settings: dict[str, dict] = {}
        # The index projects keys only: an update that changes no key writes nothing to it, so the line's
        # hot writes are not repeated on one index partition. The items themselves come in batches of 100.
        keys = [
            {"state_id": k["state_id"], "shard": k["shard"]}
            for k in self._table.all(
                "query",
                IndexName=STATE_BY_LINE,
                KeyConditionExpression="business_line = :bl",
                ExpressionAttributeValues=to_item({":bl": business_line}),
            )
        ]
        for item in self._table.batch_get(keys):
            if item["state_id"] == line_state_id(business_line):
                if item["shard"].startswith(SETTING_SHARD):
                    settings[item["shard"][len(SETTING_SHARD) :]] = json.loads(item["document"])
                else:
                    objective = item.get("objective", objective)
            else:
                counters = {k: v for k, v in item.items() if k not in _KEYS}
                creatives.setdefault(item["state_id"], []).append(counters)
        merged = {cid: merge(shards) for cid, shards in creatives.items()}
        return of_items(business_line, merged, objective, settings)

    def totals(self, creative_ids: Sequence[str]) -> dict[str, CounterTotals]:
        """Every shard's totals: one query per creative on the table's key (no statistics projected)."""
        found = {}
        for creative_id in creative_ids:
            shards = list(
                self._table.all(
                    "query",
                    KeyConditionExpression="state_id = :id",
                    ProjectionExpression="impressions, clicks, conversions, #v",
                    ExpressionAttributeNames={"#v": "value"},
                    ExpressionAttributeValues=to_item({":id": creative_id}),
                )
            )
            if shards:
                found[creative_id] = CounterTotals.of(merge(shards))
        return found

    def set_objective(self, business_line: str, objective: Objective) -> None:
        """On the line's first shard item, which every read of the line returns."""
        self._table.update(
            {"state_id": line_state_id(business_line), "shard": "0"},
            UpdateExpression="SET objective = :objective, business_line = :line",
            ExpressionAttributeValues={":objective": objective, ":line": business_line},
        )

    def save_setting(self, business_line: str, name: str, document: dict, *, expected_version: int) -> bool:
        """Saves the document as version expected_version + 1 if the stored one is still `expected_version`
        (0: none yet); False when another operator saved first."""
        item = {
            "state_id": line_state_id(business_line),
            "shard": SETTING_SHARD + name,
            "business_line": business_line,
            "version": expected_version + 1,
            "document": json.dumps({**document, "version": expected_version + 1}, sort_keys=True),
        }
        condition = "attribute_not_exists(state_id)" if expected_version == 0 else "version = :expected"
        request: dict[str, Any] = {
            "TableName": self._table.name,
            "Item": to_item(item),
            "ConditionExpression": condition,
        }
        if expected_version:
            request["ExpressionAttributeValues"] = to_item({":expected": expected_version})
        try:
            with translated_errors(DYNAMODB):
                self._table.client.put_item(**request)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
