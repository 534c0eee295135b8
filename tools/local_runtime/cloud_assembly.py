"""A synthesized cloud assembly (cdk.out), read the way `cdk deploy` reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FileAsset:
    source: Path  # a directory (zipped on publish) or a file
    packaging: str  # "zip" or "file"
    bucket_name: str  # may hold ${AWS::AccountId} / ${AWS::Region} / ${AWS::Partition} placeholders
    object_key: str
    asset_hash: str


@dataclass(frozen=True)
class StackArtifact:
    stack_name: str
    template_file: Path
    assets: tuple[FileAsset, ...]
    bootstrap_version_parameter: str | None
    required_bootstrap_version: int

    def template(self) -> dict[str, Any]:
        return json.loads(self.template_file.read_text())


def read_stack_artifact(assembly_dir: Path, stack_name: str) -> StackArtifact:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    artifacts = manifest["artifacts"]
    stack = artifacts.get(stack_name)
    if stack is None or stack.get("type") != "aws:cloudformation:stack":
        raise KeyError(f"no stack {stack_name!r} in {assembly_dir}/manifest.json")
    props = stack.get("properties", {})
    assets = tuple(
        asset
        for dependency in stack.get("dependencies", [])
        if artifacts.get(dependency, {}).get("type") == "cdk:asset-manifest"
        for asset in _file_assets(assembly_dir, assembly_dir / artifacts[dependency]["properties"]["file"])
    )
    return StackArtifact(
        stack_name=stack_name,
        template_file=assembly_dir / props["templateFile"],
        assets=assets,
        bootstrap_version_parameter=props.get("bootstrapStackVersionSsmParameter"),
        required_bootstrap_version=int(props.get("requiresBootstrapStackVersion", 0)),
    )


def _file_assets(assembly_dir: Path, asset_manifest: Path) -> list[FileAsset]:
    files = json.loads(asset_manifest.read_text()).get("files", {})
    return [
        FileAsset(
            source=assembly_dir / entry["source"]["path"],
            packaging=entry["source"].get("packaging", "file"),
            bucket_name=destination["bucketName"],
            object_key=destination["objectKey"],
            asset_hash=asset_hash,
        )
        for asset_hash, entry in files.items()
        for destination in entry["destinations"].values()
    ]
