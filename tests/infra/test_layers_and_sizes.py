"""The built dependency layers, each function's deployed size, and the model artifacts the stack deploys.

Sizes are measured on the synthesized assembly's asset directories: what is zipped and uploaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from stack_build import dependency_layers, model_staging, sizes
from stack_build.synth import synthesize

from infra.app import synthesize_checked
from infra.catalog import FUNCTIONS, MODELS_PREFIX
from infra.constructs.model_deployment import ModelArtifacts

from .conftest import Resources, of_type

AARCH64_ELF_MACHINE = 0xB7


@pytest.fixture(scope="module")
def function_sizes() -> list[sizes.FunctionSize]:
    return sizes.function_sizes(synthesize().parent)


def test_every_function_with_all_its_layers_fits_lambdas_unzipped_limit(function_sizes) -> None:
    # Given each catalog function's code and layers as synthesized
    assert sorted(size.name for size in function_sizes) == sorted(spec.name for spec in FUNCTIONS)
    for size in function_sizes:
        # Then each carries what its catalog entry lists, and no more
        spec = next(spec for spec in FUNCTIONS if spec.name == size.name)
        assert set(size.layer_bytes) == {"creative", "deps", *spec.layers}
        # And together they are under Lambda's 250 MB (262,144,000 bytes) unzipped
        assert size.total_bytes < sizes.LAMBDA_UNZIPPED_LIMIT_BYTES, sizes.report([size])


def test_a_function_over_the_limit_fails_synthesis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a limit the retraining function (deps + training layers) is over, but the others are not
    monkeypatch.setattr(sizes, "LAMBDA_UNZIPPED_LIMIT_BYTES", 200_000_000)
    # When the stack is synthesized the way stack_build.synth and `cdk synth` do it
    # Then synthesis fails, naming that function and its size
    with pytest.raises(sizes.DeployedSizeExceeded, match=r"`retrain_ctr`") as raised:
        synthesize_checked(str(tmp_path))
    assert "`select`" not in str(raised.value)


def test_the_training_layer_ships_no_distribution_the_deps_layer_already_has() -> None:
    # Given the two built layers
    deps = dependency_layers.installed_distributions(dependency_layers.recipe_for("deps").site_packages)
    training = dependency_layers.installed_distributions(
        dependency_layers.recipe_for("training").site_packages
    )
    # Then training holds LightGBM and the converter, and no second numpy (or anything else deps has)
    assert {"lightgbm", "onnxmltools", "onnx", "scipy"} <= training.keys()
    assert not deps.keys() & training.keys()
    assert not (dependency_layers.recipe_for("training").site_packages / "numpy").exists()
    # And the runtime's boto3/botocore ship in neither
    assert not {"boto3", "botocore", "s3transfer"} & (deps.keys() | training.keys())


def test_the_training_layer_resolved_against_the_deps_layers_versions() -> None:
    # Given the constraints the training layer was resolved with
    constraints = dependency_layers.recipe_for("training").directory.with_name("training.constraints.txt")
    pins = dict(line.split("==") for line in constraints.read_text().split())
    # Then they are exactly what the deps layer holds (so what training imports from deps matches)
    deps_site = dependency_layers.recipe_for("deps").site_packages
    assert pins["numpy"] == dependency_layers._metadata_field(
        dependency_layers.installed_distributions(deps_site)["numpy"], "Version"
    )


def test_lightgbm_finds_an_aarch64_openmp_runtime_in_the_training_layer() -> None:
    # Given lightgbm's library, which links libgomp.so.1 without bundling it
    layer = dependency_layers.recipe_for("training").directory
    assert (layer / "python" / "lightgbm" / "lib" / "lib_lightgbm.so").is_file()
    # Then the layer carries libgomp.so.1 in lib/ (Lambda's /opt/lib, on LD_LIBRARY_PATH), built for arm64
    libgomp = (layer / "lib" / "libgomp.so.1").read_bytes()
    assert libgomp[:4] == b"\x7fELF"
    assert int.from_bytes(libgomp[18:20], "little") == AARCH64_ELF_MACHINE
    # And it defines the OpenMP symbol versions lib_lightgbm.so asks for
    for version in (b"GOMP_1.0", b"GOMP_4.0", b"GOMP_4.5", b"OMP_1.0", b"libgomp.so.1"):
        assert version in libgomp


def test_the_deps_layer_leaves_out_what_serving_never_imports() -> None:
    deps = dependency_layers.recipe_for("deps").site_packages
    installed = dependency_layers.installed_distributions(deps)
    # Then onnxruntime and tokenizers are in, but not the Hub client tokenizers declares for downloads
    assert {"onnxruntime", "tokenizers"} <= installed.keys()
    assert "huggingface-hub" not in installed
    # And not the C API library the Python binding never loads
    assert not list((deps / "onnxruntime" / "capi").glob("libonnxruntime.so*"))


def test_the_deployed_model_files_are_the_manifests_and_go_under_models(resources: Resources) -> None:
    files = model_staging.deployed_files()
    if files is None:
        pytest.skip("build/models/manifest.json is absent (run `make models`): the stack deploys no models")
    # Given the stack's one BucketDeployment into the assets bucket (the other deploys the console)
    (deployment,) = [
        d
        for d in of_type(resources, "Custom::CDKBucketDeployment").values()
        if d["Properties"]["DestinationBucketName"]["Ref"].startswith("StorageAssetsBucket")
    ]
    properties = deployment["Properties"]
    # Then it writes under models/ of the assets bucket, and never prunes what retraining put there
    assert properties["DestinationBucketKeyPrefix"] == MODELS_PREFIX
    assert properties["DestinationBucketName"]["Ref"].startswith("StorageAssetsBucket")
    assert properties["Prune"] is False
    # And its asset holds exactly the manifest and the serving files it lists (no test references)
    assembly = synthesize().parent
    (object_key,) = properties["SourceObjectKeys"]
    asset = json.loads((assembly / "CreativeEngine.assets.json").read_text())["files"][
        object_key.removesuffix(".zip")
    ]
    staged = assembly / asset["source"]["path"]
    shipped = {path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()}
    assert shipped == {file.key for file in files}
    assert "manifest.json" in shipped and not any(key.endswith("reference.npz") for key in shipped)


def test_without_built_models_the_stack_deploys_none_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no build/models/manifest.json
    monkeypatch.setattr(model_staging, "MODELS_BUILD_DIR", tmp_path / "models")
    # When the models construct is added to a stack
    stack = Stack(App(), "NoModels")
    ModelArtifacts(stack, "Models", assets_bucket=s3.Bucket(stack, "Assets"))
    # Then the stack has no deployment and no handler
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::CDKBucketDeployment", 0)
    template.resource_count_is("AWS::Lambda::Function", 0)
    # And the synthesis says why
    assert "make models" in capsys.readouterr().err


# Trains the CTR model with the distributions the training layer leaves out made unimportable: what
# retrain_ctr can do on Lambda. Run in a child process so the blocked imports do not leak into other tests.
_TRAIN_WITHOUT = """
import importlib.abc, sys
import numpy as np
BLOCKED = set(sys.argv[1].split(","))

class NotInTheLayer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the training layer)")
        return None

sys.meta_path.insert(0, NotInTheLayer())
from creative.racing.features import CreativeFeatures, LoggedImpression
from creative.racing.ctr_training import train_ctr_model

rng = np.random.default_rng(0)
creatives = [CreativeFeatures(f"cr_{i}", "food", ("a", "b")[i % 2], (), (f"i{i}", f"c{i}"), 0.0) for i in range(4)]
rows = []
for _ in range(2000):
    gender, creative = ("f", "m")[rng.integers(2)], creatives[rng.integers(4)]
    ctr = 0.15 if (gender == "f") == (creative.category == "a") else 0.02
    rows.append(LoggedImpression({"gender": gender}, creative, 3600.0 * rng.uniform(0, 48), bool(rng.random() < ctr)))
print(train_ctr_model(rows).version)
"""


def test_retraining_trains_and_exports_with_only_what_the_training_layer_ships() -> None:
    # Given the import names of the distributions the training layer removes (scikit-learn, skl2onnx, ...)
    removed = set(
        map(dependency_layers.canonical, dependency_layers.RECIPES["training"].unused_distributions)
    )
    import_names = sorted(
        top_level
        for top_level, distributions in metadata.packages_distributions().items()
        if removed & {dependency_layers.canonical(d) for d in distributions}
    )
    assert "sklearn" in import_names
    # When the CTR model is trained and exported with those imports blocked, as on Lambda
    result = subprocess.run(
        [sys.executable, "-c", _TRAIN_WITHOUT, ",".join(import_names)], capture_output=True, text=True
    )
    # Then it succeeds: training needs nothing the layer left out
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("ctr-")
