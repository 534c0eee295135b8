"""S3 adapter: reads uploaded objects (bounded) and signs image URLs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from creative.errors import TransientError

_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


class S3ObjectStore:
    def __init__(self, client: Any):
        self._client = client

    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes | None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._client.get_object(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING:
                return None
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500 or code == "SlowDown":
                raise TransientError(f"S3 is unavailable: {code}") from exc
            raise
        body = response["Body"]
        try:
            if response.get("ContentLength", 0) > max_bytes:
                raise ValueError(f"object is {response['ContentLength']} bytes, cap is {max_bytes}")
            data = body.read(max_bytes + 1)  # never more than the cap, whatever the header said
            if len(data) > max_bytes:
                raise ValueError(f"object exceeds the cap of {max_bytes} bytes")
            return data
        finally:
            body.close()

    def exists(self, bucket: str, key: str, version_id: str | None) -> bool:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            self._client.head_object(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in _MISSING:
                return False
            raise
        return True

    def presigned_url(self, bucket: str, key: str, version_id: str | None, expires_s: int) -> str:
        params = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        return self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
