"""The near-duplicate index in DynamoDB: one item per (scope, hash key, material), carrying the fingerprint.

`bucket` is "<business line>#<space>#<hash key>" (e.g. "food#copy-3f2a9c01de#lsh4:173"), `material_id` the
sort key. Each item repeats the material's fingerprint (float16 vector, ~0.8 KB for copy and ~2.5 KB for
images, and the perceptual hash or the canonical words) so a lookup is one Query per hash key and nothing else. A line of 10,000
materials spreads over 24 x 1,024 LSH buckets; a lookup reads the items sharing a bucket with the new
material (about 260 of 11,000 indexed lines, out/quality/report.json), not the line.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DynamoTable
from creative.quality.near_duplicates import Fingerprint, IndexedFingerprint


class DynamoSimilarityIndex:
    def __init__(self, client: Any, table_name: str, *, sleep=time.sleep):
        self._table = DynamoTable(client, table_name)
        self._sleep = sleep

    def candidates(self, scope: str, keys: Sequence[str]) -> list[IndexedFingerprint]:
        found: dict[str, IndexedFingerprint] = {}
        for key in keys:
            for item in self._table.all(
                "query",
                KeyConditionExpression="bucket = :b",
                ExpressionAttributeValues=to_item({":b": f"{scope}#{key}"}),
            ):
                if item["material_id"] not in found:
                    found[item["material_id"]] = _entry(item)
        return list(found.values())

    def add(self, scope: str, keys: Sequence[str], entry: IndexedFingerprint) -> None:
        fingerprint = entry.fingerprint
        document = {
            "material_id": entry.material_id,
            "vector": fingerprint.vector.astype(np.float16).tobytes(),
            "phash": fingerprint.phash,
            "words": " ".join(sorted(fingerprint.words)) if fingerprint.words else None,
        }
        requests = [{"PutRequest": {"Item": to_item({"bucket": f"{scope}#{k}", **document})}} for k in keys]
        self._table.batch_write(requests, sleep=self._sleep)

    def remove(self, scope: str, keys: Sequence[str], material_id: str) -> None:
        requests = [
            {"DeleteRequest": {"Key": to_item({"bucket": f"{scope}#{k}", "material_id": material_id})}}
            for k in keys
        ]
        self._table.batch_write(requests, sleep=self._sleep)


def _entry(item: dict[str, Any]) -> IndexedFingerprint:
    vector = np.frombuffer(item["vector"], dtype=np.float16).astype(np.float32)
    vector /= max(float(np.linalg.norm(vector)), 1e-12)  # float16 rounding: renormalise before cosines
    words = frozenset(item["words"].split()) if item.get("words") else None
    return IndexedFingerprint(item["material_id"], Fingerprint(vector, item.get("phash"), words))
