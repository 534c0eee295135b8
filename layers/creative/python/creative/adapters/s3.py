"""S3 adapter: reads uploaded objects (bounded), writes served renditions, signs image URLs and upload forms."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import is_missing_object, translated_errors
from creative.ports import ObjectHead
from creative.upload_forms import PresignedPost

S3 = "S3"


class S3ObjectStore:
    def __init__(self, client: Any):
        self._client = client

    @staticmethod
    def _object(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        return {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes | None:
        try:
            with translated_errors(S3):
                response = self._client.get_object(**self._object(bucket, key, version_id))
        except ClientError as exc:
            if is_missing_object(exc):
                return None
            raise
        body = response["Body"]
        try:
            if response.get("ContentLength", 0) > max_bytes:
                raise ValueError(f"object is {response['ContentLength']} bytes, cap is {max_bytes}")
            with translated_errors(S3):  # the stream too: a reset mid-read is as retryable as the GET
                data = body.read(max_bytes + 1)  # never more than the cap, whatever the header said
            if len(data) > max_bytes:
                raise ValueError(f"object exceeds the cap of {max_bytes} bytes")
            return data
        finally:
            body.close()

    def exists(self, bucket: str, key: str, version_id: str | None) -> bool:
        try:
            with translated_errors(S3):
                self._client.head_object(**self._object(bucket, key, version_id))
        except ClientError as exc:
            if is_missing_object(exc):
                return False
            raise
        return True

    def head(self, bucket: str, key: str) -> ObjectHead | None:
        try:
            with translated_errors(S3):
                response = self._client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if is_missing_object(exc):
                return None
            raise
        version = response.get("VersionId")
        return ObjectHead(None if version in (None, "null") else version, response.get("ETag", "").strip('"'))

    def presigned_url(self, bucket: str, key: str, version_id: str | None, expires_s: int) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params=self._object(bucket, key, version_id), ExpiresIn=expires_s
        )

    def presigned_post(
        self, bucket: str, key: str, content_type: str, max_bytes: int, expires_s: int
    ) -> PresignedPost:
        form = self._client.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_s,
        )
        return PresignedPost(url=form["url"], fields=dict(form["fields"]))

    def write(self, bucket: str, key: str, data: bytes, content_type: str) -> str | None:
        with translated_errors(S3):
            response = self._client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        version = response.get("VersionId")
        return None if version in (None, "null") else version
