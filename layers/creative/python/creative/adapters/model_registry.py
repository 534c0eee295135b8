"""The model registry: artifacts in the assets bucket, the active pointer and run reports in a table."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.dynamodb import _is_condition_failure, from_item, to_item, translated_errors
from creative.errors import CorruptModel, NotFound
from creative.ports import ModelRef


class DynamoModelRegistry:
    """Artifacts in the assets bucket; the active pointer and every retraining report in a table.

    The pointer moves with a conditional write, so two retraining runs that overlap cannot both promote
    over the same champion.
    """

    ACTIVE = "active"

    def __init__(self, dynamodb: Any, table_name: str, s3: Any, bucket: str, *, prefix: str = "models/"):
        self._dynamodb = dynamodb
        self._table = table_name
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def active(self, name: str) -> ModelRef | None:
        with translated_errors():
            response = self._dynamodb.get_item(
                TableName=self._table, Key=to_item({"model_name": name, "record": self.ACTIVE})
            )
        if "Item" not in response:
            return None
        document = from_item(response["Item"])
        return ModelRef(
            name, document["version"], document["key"], document["sha256"], int(document["bytes"])
        )

    def read(self, ref: ModelRef) -> bytes:
        try:
            with translated_errors():
                response = self._s3.get_object(Bucket=self._bucket, Key=ref.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"s3://{self._bucket}/{ref.key} does not exist") from exc
            raise
        data = response["Body"].read()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise CorruptModel(f"s3://{self._bucket}/{ref.key} does not match its recorded sha256")
        return data

    def store(self, name: str, version: str, artifact: bytes) -> ModelRef:
        key = f"{self._prefix}{name}/{version}.onnx"
        digest = hashlib.sha256(artifact).hexdigest()
        with translated_errors():
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=artifact, Metadata={"sha256": digest})
        return ModelRef(name, version, key, digest, len(artifact))

    def promote(self, ref: ModelRef, *, replacing: ModelRef | None, report: dict) -> bool:
        item = {
            "model_name": ref.name,
            "record": self.ACTIVE,
            "version": ref.version,
            "key": ref.key,
            "sha256": ref.sha256,
            "bytes": ref.bytes,
        }
        if replacing is None:
            condition, values = "attribute_not_exists(model_name)", None
        else:
            condition, values = "version = :expected", to_item({":expected": replacing.version})
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(item),
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            with translated_errors():
                self._dynamodb.put_item(**kwargs)
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def record_run(self, name: str, report: dict) -> None:
        """Keeps every retraining run's report (promoted or not); a retried run keeps the first one."""
        try:
            with translated_errors():
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item=to_item({"model_name": name, "record": f"run#{report['started_at']}", **report}),
                    ConditionExpression="attribute_not_exists(model_name)",
                )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise

    def runs(self, name: str, limit: int = 20) -> list[dict]:
        with translated_errors():
            response = self._dynamodb.query(
                TableName=self._table,
                KeyConditionExpression="model_name = :n AND begins_with(#r, :run)",
                ExpressionAttributeNames={"#r": "record"},
                ExpressionAttributeValues=to_item({":n": name, ":run": "run#"}),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [from_item(i) for i in response.get("Items", [])]
