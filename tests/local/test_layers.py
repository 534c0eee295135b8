"""Which directories a function's layers put on its sys.path when it runs in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_runtime import layers

from infra.catalog import BUILT_LAYERS_DIR, CREATIVE_LAYER_DIR


def test_the_domain_layer_is_its_source() -> None:
    # Given the `creative` layer; Then its source directory goes on sys.path, on any host
    assert layers.catalog_layer_dirs("creative") == [CREATIVE_LAYER_DIR / "python"]


def test_built_layers_go_on_sys_path_where_their_wheels_load(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a Linux aarch64 CPython 3.13 host, the platform the dependency layers are built for
    monkeypatch.setattr(layers, "host_runs_layer_platform", lambda: True)
    # Then the built training layer goes on sys.path
    assert layers.catalog_layer_dirs("training") == [BUILT_LAYERS_DIR / "training" / "python"]


def test_elsewhere_this_environment_stands_in_for_built_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given any other host (the layer's aarch64 wheels cannot load here)
    monkeypatch.setattr(layers, "host_runs_layer_platform", lambda: False)
    # Then no directory is added: this environment's packages stand in for the layer
    assert layers.catalog_layer_dirs("training") == []


def test_pins_the_environment_does_not_meet_are_named(tmp_path: Path) -> None:
    # Given requirements pinning an installed package at its version, another version, and a missing one
    import pytest as installed

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# a comment line\n"
        f"pytest=={installed.__version__}\n"
        "pydantic[email]==0.0.1  # extras do not matter\n"
        "surely-not-installed-anywhere==1.0\n"
    )
    # When they are checked against this environment
    unmet = layers.unmet_pins(requirements)
    # Then the other version and the missing package are reported, the met pin is not
    assert [entry.split(" ")[0] for entry in unmet] == ["pydantic==0.0.1", "surely-not-installed-anywhere"]
