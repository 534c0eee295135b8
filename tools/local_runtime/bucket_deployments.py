"""CDK BucketDeployments (Custom::CDKBucketDeployment), done by the local runtime instead of moto.

On AWS a custom resource's Lambda copies an asset's files into a bucket prefix during the deploy. moto's
CloudFormation would try to run that Lambda in Docker and leave the stack CREATE_IN_PROGRESS forever, so
deploy.py takes these resources out of the template it gives moto and calls perform() once the stack
exists. perform() uploads the asset directory's files under the declared prefix, skipping each object
already there with the same sha256 (kept in the object's metadata), so a restart uploads nothing new.
Like the stack's deployments, nothing is pruned.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_runtime.cloud_assembly import FileAsset
from local_runtime.deployed_stack import DeployedStack
from local_runtime.intrinsics import resolve

log = logging.getLogger(__name__)

RESOURCE_TYPE = "Custom::CDKBucketDeployment"
SHA256_METADATA = "sha256"  # x-amz-meta-sha256


@dataclass(frozen=True)
class BucketDeployment:
    logical_id: str
    source_object_keys: tuple[str, ...]
    destination_bucket: Any  # a template value (Ref to the bucket), resolved once the stack exists
    destination_prefix: str


@dataclass(frozen=True)
class DeploymentResult:
    bucket: str
    prefix: str
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]


def split_off(template: dict[str, Any]) -> tuple[dict[str, Any], list[BucketDeployment]]:
    """The template without its bucket deployments (what moto gets), and those deployments."""
    remaining = copy.deepcopy(template)
    deployments = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != RESOURCE_TYPE:
            continue
        props = resource["Properties"]
        deployments.append(
            BucketDeployment(
                logical_id=logical_id,
                source_object_keys=tuple(props.get("SourceObjectKeys", [])),
                destination_bucket=props["DestinationBucketName"],
                destination_prefix=props.get("DestinationBucketKeyPrefix", ""),
            )
        )
        del remaining["Resources"][logical_id]
    return remaining, deployments


def perform(
    deployment: BucketDeployment, stack: DeployedStack, assets: tuple[FileAsset, ...], s3: Any
) -> DeploymentResult:
    bucket = str(resolve(deployment.destination_bucket, stack))
    by_key = {asset.object_key: asset for asset in assets}
    uploaded, unchanged = [], []
    for object_key in deployment.source_object_keys:
        asset = by_key.get(object_key)
        if asset is None or not asset.source.is_dir():
            raise FileNotFoundError(f"{deployment.logical_id}: no asset directory publishes {object_key}")
        for path in sorted(p for p in asset.source.rglob("*") if p.is_file()):
            key = deployment.destination_prefix + path.relative_to(asset.source).as_posix()
            digest = _sha256(path)
            if _stored_sha256(s3, bucket, key) == digest:
                unchanged.append(key)
                continue
            s3.upload_file(str(path), bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA: digest}})
            uploaded.append(key)
    return DeploymentResult(bucket, deployment.destination_prefix, tuple(uploaded), tuple(unchanged))


def _stored_sha256(s3: Any, bucket: str, key: str) -> str | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(SHA256_METADATA)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
