"""Lambda layers: the `creative` domain package and `deps` on every function, extra dependency layers
(e.g. `training`) only on the functions whose catalog entry lists them."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants
from infra.catalog import BUILT_LAYERS_DIR, DEPS_LAYER, FunctionSpec, extra_layer_names

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
CREATIVE_LAYER = "creative"

DESCRIPTIONS = {
    CREATIVE_LAYER: "Creative Engine domain package (python/creative).",
    DEPS_LAYER: (
        "Powertools, pydantic, numpy, Pillow, onnxruntime, tokenizers for python3.13 arm64 "
        "(boto3 comes with the runtime)."
    ),
    "training": "LightGBM, scipy, onnx and onnxmltools for python3.13 arm64, beyond what deps provides.",
}


class Layers(Construct):
    """One LayerVersion per layer, each tagged with its name in its CFN metadata (`creative:layer`)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.by_name: dict[str, lambda_.LayerVersion] = {}
        # The creative layer is its source staged with bytecode (stack_build.bytecode), like the others built.
        for name in (CREATIVE_LAYER, DEPS_LAYER, *extra_layer_names()):
            built = BUILT_LAYERS_DIR / name
            if not (built / "python").is_dir():
                raise FileNotFoundError(
                    f"{built}/python is missing: build the layers with `python -m stack_build.dependency_layers`"
                )
            self.by_name[name] = self._layer(name, built)

    def for_function(self, spec: FunctionSpec) -> list[lambda_.ILayerVersion]:
        """The shared layers, then the extra ones the function's catalog entry lists, in that order."""
        return [self.by_name[name] for name in (CREATIVE_LAYER, DEPS_LAYER, *spec.layers)]

    def _layer(self, name: str, path) -> lambda_.LayerVersion:
        layer = lambda_.LayerVersion(
            self,
            f"{name.capitalize()}Layer",
            code=lambda_.Code.from_asset(str(path), exclude=constants.BUILT_LAYER_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=DESCRIPTIONS.get(name, f"The {name} dependency layer for python3.13 arm64."),
        )
        layer.node.default_child.add_metadata(constants.LAYER_METADATA_KEY, name)
        return layer
