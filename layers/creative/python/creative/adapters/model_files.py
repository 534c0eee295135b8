"""Model artifacts from the assets bucket to the function's /tmp, verified against the deployed manifest.

The deploy (and the local runtime) put `manifest.json` and every artifact file under `models/`; a function
fetches the manifest on its cold start, then only the files its cache lacks or that fail their sha256
(`creative.inference.artifacts.ModelFiles`). A warm function reuses the directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from creative.adapters.aws_errors import translated_errors
from creative.inference.artifacts import MANIFEST_NAME, Fetch, Manifest, ModelFiles

MODELS_PREFIX = "models/"
DEFAULT_CACHE = Path("/tmp/models")  # Lambda's only writable disk


def s3_fetch(client: Any, bucket: str, prefix: str = MODELS_PREFIX) -> Fetch:
    def fetch(key: str, dest_path: Path) -> None:
        with translated_errors("S3"):  # the stream too: a read timeout mid-copy is as retryable as the GET
            response = client.get_object(Bucket=bucket, Key=prefix + key)
            body = response["Body"]
            try:
                with dest_path.open("wb") as out:
                    shutil.copyfileobj(body, out, length=1024 * 1024)  # streamed: the generator is 287 MB
            finally:
                body.close()

    return fetch


def model_directory(client: Any, bucket: str, name: str, cache_root: Path = DEFAULT_CACHE) -> Path:
    """The local directory of the deployed artifact `name`, complete and verified."""
    (directory,) = model_directories(client, bucket, [name], cache_root)
    return directory


def model_directories(
    client: Any, bucket: str, names: list[str], cache_root: Path = DEFAULT_CACHE
) -> list[Path]:
    """The local directories of several deployed artifacts, from one read of the deployed manifest."""
    fetch = s3_fetch(client, bucket)
    cache_root.mkdir(parents=True, exist_ok=True)
    manifest_path = cache_root / MANIFEST_NAME
    partial = manifest_path.with_name(MANIFEST_NAME + ".partial")
    fetch(MANIFEST_NAME, partial)
    partial.replace(manifest_path)  # never a half-written manifest under the real name
    manifest = Manifest.read(manifest_path)
    return [ModelFiles(manifest.get(name), cache_root, fetch).materialise() for name in names]
