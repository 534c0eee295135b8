"""The near-duplicate index in DynamoDB: one item per hash bucket listing its members, one item per material
holding its fingerprint.

- A bucket item is `bucket` = "<business line>#<space>#<hash key>" (e.g. "food#copy-3f2a9c01de#lsh4:173"),
  `material_id` = "#members", with `members`: the string set of the material ids filed under that key.
- A fingerprint item is `bucket` = "<business line>#<space>#fingerprints", `material_id` = the material,
  with its float16 unit vector (~0.8 KB for copy, ~2.5 KB for images), its perceptual hash or canonical
  words, and the hash keys it was filed under (what removal unfiles).

A lookup is two BatchGetItems whatever the number of hash keys: the new material's bucket items, then the
fingerprints of their members (100 a call; about 260 on a line of 11,000 indexed lines,
out/quality/report.json). One Query per hash key made it 25 round trips (33 for images), which was most of
a material's tagging time (docs/decisions.md). Filing and removing are one transaction each (the
fingerprint and every bucket together), so a bucket never names a material whose fingerprint is missing,
and a replay changes nothing: a set ADD of a member already there is a no-op.

Buckets are bounded: a bucket that holds `BUCKET_CAP` members takes no more (a condition on each filing
update; the material stays findable through its other keys, and the lookup's cost stays bounded); set
members are ~30 bytes, so a full bucket item is ~60 KB, far from DynamoDB's 400 KB.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from creative.adapters.aws_errors import cancellation_reasons, translated_errors
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DYNAMODB, DynamoTable
from creative.errors import TransientError
from creative.quality.near_duplicates import Fingerprint, IndexedFingerprint

logger = logging.getLogger(__name__)

MEMBERS = "#members"  # the sort key of a bucket item (material ids start with "mat_")
FINGERPRINTS = "fingerprints"
BUCKET_CAP = 2000
# Transactions of two tagging functions filing similar materials at once meet on a bucket item and one
# is cancelled (TransactionConflict); a short jittered retry resolves them.
CONFLICT_RETRIES = 4


class DynamoSimilarityIndex:
    def __init__(self, client: Any, table_name: str, *, sleep=time.sleep, bucket_cap: int = BUCKET_CAP):
        self._table = DynamoTable(client, table_name)
        self._sleep = sleep
        self._cap = bucket_cap

    def candidates(self, scope: str, keys: Sequence[str]) -> list[IndexedFingerprint]:
        buckets = self._table.batch_get(
            [{"bucket": f"{scope}#{key}", "material_id": MEMBERS} for key in dict.fromkeys(keys)],
            sleep=self._sleep,
        )
        members = sorted(set().union(*(bucket.get("members", ()) for bucket in buckets)))
        items = self._table.batch_get(
            [{"bucket": f"{scope}#{FINGERPRINTS}", "material_id": member} for member in members],
            sleep=self._sleep,
        )
        return sorted((entry_of(item) for item in items), key=lambda entry: entry.material_id)

    def add(self, scope: str, keys: Sequence[str], entry: IndexedFingerprint) -> None:
        fingerprint = entry.fingerprint
        document = {
            "bucket": f"{scope}#{FINGERPRINTS}",
            "material_id": entry.material_id,
            "vector": fingerprint.vector.astype(np.float16).tobytes(),
            "phash": fingerprint.phash,
            "words": " ".join(sorted(fingerprint.words)) if fingerprint.words else None,
            "keys": set(keys) or None,  # what removal unfiles: keys recomputed later may differ
        }
        put = {"Put": {"TableName": self._table.name, "Item": to_item(document)}}
        keys = list(dict.fromkeys(keys))
        while True:
            reasons = self._transact([put] + [self._file(scope, key, entry.material_id) for key in keys])
            if reasons is None:
                return
            full = [
                key
                for key, reason in zip(keys, reasons[1:], strict=True)
                if reason == "ConditionalCheckFailed"
            ]
            if not full:
                raise TransientError(
                    f"filing {entry.material_id} in the similarity index was cancelled: {reasons}"
                )
            logger.warning(
                "similarity buckets full (%d members), %s not filed under %s",
                self._cap,
                entry.material_id,
                full,
            )
            keys = [key for key in keys if key not in full]

    def remove(self, scope: str, keys: Sequence[str], material_id: str) -> None:
        """Unfiles the material from the given keys and from those its fingerprint was filed under: keys
        recomputed from the stored float16 vector can differ in a band whose projection is near zero."""
        filed = self._table.get(
            {"bucket": f"{scope}#{FINGERPRINTS}", "material_id": material_id}, consistent=True
        )
        keys = list(dict.fromkeys([*keys, *sorted((filed or {}).get("keys", ()))]))
        delete = {
            "Delete": {
                "TableName": self._table.name,
                "Key": to_item({"bucket": f"{scope}#{FINGERPRINTS}", "material_id": material_id}),
            }
        }
        unfile = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": to_item({"bucket": f"{scope}#{key}", "material_id": MEMBERS}),
                    "UpdateExpression": "DELETE members :id",
                    "ConditionExpression": "attribute_exists(members)",
                    "ExpressionAttributeValues": to_item({":id": {material_id}}),
                }
            }
            for key in dict.fromkeys(keys)
        ]
        reasons = self._transact([delete, *unfile])
        if reasons is None:
            return
        # A bucket already emptied makes the condition fail: unfile from the buckets that still exist.
        present = [
            u for u, reason in zip(unfile, reasons[1:], strict=True) if reason != "ConditionalCheckFailed"
        ]
        if len(present) < len(unfile) and self._transact([delete, *present]) is None:
            return
        raise TransientError(f"removing {material_id} from the similarity index was cancelled: {reasons}")

    def _file(self, scope: str, key: str, material_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": to_item({"bucket": f"{scope}#{key}", "material_id": MEMBERS}),
                "UpdateExpression": "ADD members :ids",
                "ConditionExpression": (
                    "attribute_not_exists(members) OR size(members) < :cap OR contains(members, :id)"
                ),
                "ExpressionAttributeValues": to_item(
                    {":ids": {material_id}, ":id": material_id, ":cap": self._cap}
                ),
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """None when the transaction applied; the per-item cancellation reasons when a condition failed.
        Conflicts with concurrent transactions are retried here, then raised as TransientError."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                with translated_errors(DYNAMODB):
                    self._table.client.transact_write_items(TransactItems=items)
                return None
            except ClientError as exc:
                reasons = cancellation_reasons(exc)
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" not in reasons:
                    return reasons
            self._sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise TransientError("the similarity index is busy with concurrent updates; retry")


def entry_of(item: dict[str, Any]) -> IndexedFingerprint:
    vector = np.frombuffer(item["vector"], dtype=np.float16).astype(np.float32)
    vector /= max(float(np.linalg.norm(vector)), 1e-12)  # float16 rounding: renormalise before cosines
    words = frozenset(item["words"].split()) if item.get("words") else None
    return IndexedFingerprint(item["material_id"], Fingerprint(vector, item.get("phash"), words))
