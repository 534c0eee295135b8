"""Each function's deployed size: its code plus every layer it carries, unzipped, from the synthesized assets.

Lambda refuses a function whose code and layers together exceed 250 MB unzipped, and only says so at
deploy time. The sizes here are measured on the asset directories of the cloud assembly (exactly what
gets zipped and uploaded), so synthesis fails instead (infra.app.synthesize_checked calls check()).
`python -m stack_build.sizes` synthesizes if stale and prints the table docs/deploy.md records.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.catalog import STACK_NAME
from infra.paths import REPO_ROOT

# Lambda's quota on a function's deployment package plus its layers, unzipped: 250 MB (MiB, in bytes).
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000
# Same keys as infra.constants (importing it would load aws_cdk).
FUNCTION_METADATA_KEY = "creative:function"
LAYER_METADATA_KEY = "creative:layer"


class DeployedSizeExceeded(RuntimeError):
    """A function's code and layers together are over Lambda's unzipped size limit."""


@dataclass(frozen=True)
class FunctionSize:
    name: str
    code_bytes: int
    layer_bytes: dict[str, int]  # layer name (creative, deps, training, ...) -> unzipped bytes

    @property
    def total_bytes(self) -> int:
        return self.code_bytes + sum(self.layer_bytes.values())

    @property
    def headroom_bytes(self) -> int:
        return LAMBDA_UNZIPPED_LIMIT_BYTES - self.total_bytes


def function_sizes(assembly_dir: Path, stack_name: str = STACK_NAME) -> list[FunctionSize]:
    """The size of every catalog function of the synthesized stack in `assembly_dir`."""
    assembly_dir = Path(assembly_dir)
    template = json.loads((assembly_dir / f"{stack_name}.template.json").read_text())
    assets = json.loads((assembly_dir / f"{stack_name}.assets.json").read_text()).get("files", {})
    resources: dict[str, Any] = template["Resources"]
    measured: dict[str, int] = {}  # asset hash -> bytes; the shared layers are measured once

    def asset_bytes(location: dict[str, Any]) -> int:
        asset_hash = location["S3Key"].removesuffix(".zip")
        if asset_hash not in measured:
            measured[asset_hash] = unzipped_size(assembly_dir / assets[asset_hash]["source"]["path"])
        return measured[asset_hash]

    sizes = []
    for resource in resources.values():
        name = resource.get("Metadata", {}).get(FUNCTION_METADATA_KEY)
        if resource["Type"] != "AWS::Lambda::Function" or not name:
            continue
        properties = resource["Properties"]
        layers = {}
        for reference in properties.get("Layers", []):
            layer = resources[reference["Ref"]]
            layers[layer["Metadata"][LAYER_METADATA_KEY]] = asset_bytes(layer["Properties"]["Content"])
        sizes.append(FunctionSize(name, asset_bytes(properties["Code"]), layers))
    return sorted(sizes, key=lambda size: size.name)


def check(sizes: list[FunctionSize]) -> None:
    """Raise DeployedSizeExceeded, naming every function over the limit and what it carries."""
    over = [size for size in sizes if size.total_bytes > LAMBDA_UNZIPPED_LIMIT_BYTES]
    if over:
        raise DeployedSizeExceeded(
            f"over Lambda's {LAMBDA_UNZIPPED_LIMIT_BYTES:,}-byte unzipped limit for code + layers:\n"
            + report(over)
        )


def report(sizes: list[FunctionSize]) -> str:
    """A Markdown table: one row per function, its parts and its headroom under the limit."""
    layer_names = sorted({name for size in sizes for name in size.layer_bytes})
    header = ["function", "code", *layer_names, "total bytes", "total MB", "headroom MB"]
    rows = [
        [
            f"`{size.name}`",
            _mb(size.code_bytes),
            *(_mb(size.layer_bytes[name]) if name in size.layer_bytes else "—" for name in layer_names),
            f"{size.total_bytes:,}",
            _mb(size.total_bytes),
            _mb(size.headroom_bytes),
        ]
        for size in sizes
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}"


def unzipped_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in Path(directory).rglob("*") if path.is_file())


def main() -> int:
    from stack_build.synth import DEFAULT_OUTDIR, synthesize  # synthesizes (checking sizes) only if stale

    synthesize()
    print(
        f"Deployed size per function (MB = 10^6 bytes; the limit is {LAMBDA_UNZIPPED_LIMIT_BYTES:,} bytes):"
    )
    print(report(function_sizes(DEFAULT_OUTDIR)))
    print(f"(measured in {DEFAULT_OUTDIR.relative_to(REPO_ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
