"""The two layers every function carries: the `creative` domain package and its third-party dependencies."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants
from infra.catalog import CREATIVE_LAYER_DIR, DEPS_LAYER_DIR

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


class SharedLayers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        if not (DEPS_LAYER_DIR / "python").is_dir():
            raise FileNotFoundError(
                f"{DEPS_LAYER_DIR}/python is missing: build it with `python -m infra.build_deps_layer`"
            )
        self.creative = self._layer(
            "CreativeLayer",
            "creative",
            str(CREATIVE_LAYER_DIR),
            "Creative Engine domain package (python/creative).",
        )
        self.deps = self._layer(
            "DepsLayer",
            "deps",
            str(DEPS_LAYER_DIR),
            "Powertools, pydantic, numpy, Pillow for python3.13 arm64 (boto3 comes with the runtime).",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.creative, self.deps]

    def _layer(self, construct_id: str, layer_name: str, path: str, description: str) -> lambda_.LayerVersion:
        layer = lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(path, exclude=constants.ASSET_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
        )
        layer.node.default_child.add_metadata(constants.LAYER_METADATA_KEY, layer_name)
        return layer
