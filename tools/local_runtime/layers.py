"""Where a function's layers come from when it runs in this process.

The template says which layers each function carries (`creative:layer` metadata on each LayerVersion).
`creative` is the domain package's source and goes on the function's sys.path as it is. The dependency
layers (deps, training, ...) are built for Linux aarch64 / CPython 3.13: on such a host their build
directories go on sys.path too; anywhere else their compiled wheels cannot load, so this environment's
packages stand in, and each layer's pins are checked against what is installed so that a missing or
different version is reported at start rather than as an ImportError mid-request.
"""

from __future__ import annotations

import logging
import platform
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from infra.catalog import BUILT_LAYERS_DIR, CREATIVE_LAYER_DIR, LAYER_SOURCES_DIR

log = logging.getLogger(__name__)

SOURCE_LAYERS = {"creative": CREATIVE_LAYER_DIR / "python"}
# The platform the dependency layers are built for (stack_build.dependency_layers).
LAYER_PLATFORM = ("Linux", "aarch64", (3, 13))


def host_runs_layer_platform() -> bool:
    return (platform.system(), platform.machine(), sys.version_info[:2]) == LAYER_PLATFORM


def catalog_layer_dirs(layer_name: str) -> list[Path]:
    """The directories to put on sys.path for one layer of a catalog function."""
    if layer_name in SOURCE_LAYERS:
        return [SOURCE_LAYERS[layer_name]]
    if host_runs_layer_platform():
        return [BUILT_LAYERS_DIR / layer_name / "python"]
    report_unmet_pins(layer_name)
    return []


@cache  # once per layer and process: the environment does not change while it runs
def report_unmet_pins(layer_name: str) -> list[str]:
    """Pins of layers/<name>/requirements.txt this environment does not satisfy; logged as a warning."""
    requirements = LAYER_SOURCES_DIR / layer_name / "requirements.txt"
    unmet = unmet_pins(requirements) if requirements.is_file() else [f"no {requirements}"]
    if unmet:
        log.warning(
            "layer %s: this environment stands in for it (built for Linux aarch64) but lacks %s",
            layer_name,
            ", ".join(unmet),
        )
    return unmet


def unmet_pins(requirements: Path) -> list[str]:
    """`name==version` lines whose distribution is missing here or installed at another version."""
    unmet = []
    for line in requirements.read_text().splitlines():
        pin = line.split("#", 1)[0].strip()
        if "==" not in pin:
            continue
        name, version = (part.strip() for part in pin.split("==", 1))
        name = name.split("[", 1)[0]  # extras do not change the distribution
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{name} (not installed)")
            continue
        if installed != version:
            unmet.append(f"{name}=={version} (found {installed})")
    return unmet
