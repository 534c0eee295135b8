"""What the console's browser tests need beyond the virtualenv: a Chromium and axe-core.

Chromium is Debian's package (the Makefile's `browser` target installs it): Playwright's own browser
download needs a host CI may not reach. axe-core comes from npm, pinned here, installed once under
build/npm by `python -m browser_tools` (the Makefile runs it); tests never download anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from infra.paths import BUILD_DIR

AXE_CORE_VERSION = "4.14.1"
# BROWSER_TOOLS_DIR moves the npm install elsewhere (e.g. a worktree whose build/ is shared).
NPM_DIR = Path(os.environ.get("BROWSER_TOOLS_DIR") or BUILD_DIR / "npm")
AXE_CORE_JS = NPM_DIR / "node_modules" / "axe-core" / "axe.min.js"


def chromium() -> str | None:
    """The Chromium the tests drive: CHROMIUM_PATH, else Debian's `chromium` on the PATH."""
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def installed_axe_version() -> str | None:
    manifest = AXE_CORE_JS.parent / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


def install_axe() -> Path:
    if installed_axe_version() != AXE_CORE_VERSION:
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(NPM_DIR),
                "--no-save",
                "--no-package-lock",
                "--no-audit",
                "--no-fund",
                f"axe-core@{AXE_CORE_VERSION}",
            ],
            check=True,
        )
    return AXE_CORE_JS
