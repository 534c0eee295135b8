"""The model registry: artifacts in the assets bucket, the active pointer and run reports in a table."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import is_missing_object, translated_errors
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DynamoTable
from creative.errors import CorruptModel, NotFound
from creative.ports import ModelRef

S3 = "S3"


class DynamoModelRegistry:
    """Artifacts in the assets bucket; the active pointer and every retraining report in a table.

    The pointer moves with a conditional write, so two retraining runs that overlap cannot both promote
    over the same champion.
    """

    ACTIVE = "active"

    def __init__(self, dynamodb: Any, table_name: str, s3: Any, bucket: str, *, prefix: str = "models/"):
        self._table = DynamoTable(dynamodb, table_name)
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def active(self, name: str) -> ModelRef | None:
        document = self._table.get({"model_name": name, "record": self.ACTIVE})
        if document is None:
            return None
        return ModelRef(
            name, document["version"], document["key"], document["sha256"], int(document["bytes"])
        )

    def read(self, ref: ModelRef) -> bytes:
        try:
            with translated_errors(S3):
                response = self._s3.get_object(Bucket=self._bucket, Key=ref.key)
                data = response["Body"].read()
        except ClientError as exc:
            if is_missing_object(exc):
                raise NotFound(f"s3://{self._bucket}/{ref.key} does not exist") from exc
            raise
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise CorruptModel(f"s3://{self._bucket}/{ref.key} does not match its recorded sha256")
        return data

    def store(self, name: str, version: str, artifact: bytes) -> ModelRef:
        key = f"{self._prefix}{name}/{version}.onnx"
        digest = hashlib.sha256(artifact).hexdigest()
        with translated_errors(S3):
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=artifact, Metadata={"sha256": digest})
        return ModelRef(name, version, key, digest, len(artifact))

    def promote(self, ref: ModelRef, *, replacing: ModelRef | None, report: dict) -> bool:
        pointer = {
            "model_name": ref.name,
            "record": self.ACTIVE,
            "version": ref.version,
            "key": ref.key,
            "sha256": ref.sha256,
            "bytes": ref.bytes,
        }
        if replacing is None:
            return self._table.put(pointer, condition="attribute_not_exists(model_name)")
        return self._table.put(
            pointer, condition="version = :expected", values={":expected": replacing.version}
        )

    def record_run(self, name: str, report: dict) -> None:
        """Keeps every retraining run's report (promoted or not); a retried run keeps the first one."""
        self._table.put_if_absent(
            {"model_name": name, "record": f"run#{report['started_at']}", **report}, "model_name"
        )

    def runs(self, name: str, limit: int = 20) -> list[dict]:
        items, _ = self._table.page(
            "query",
            limit,
            None,
            KeyConditionExpression="model_name = :n AND begins_with(#r, :run)",
            ExpressionAttributeNames={"#r": "record"},
            ExpressionAttributeValues=to_item({":n": name, ":run": "run#"}),
            ScanIndexForward=False,
        )
        return items
