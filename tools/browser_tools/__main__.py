"""`python -m browser_tools`: installs the pinned axe-core for the console's browser tests.

Without npm (it comes with Node.js, which the CDK synthesis needs anyway) the accessibility tests skip and
say why; with npm, a failed install fails the build.
"""

import shutil

from browser_tools import AXE_CORE_JS, chromium, install_axe

if shutil.which("npm") is None:
    print(f"npm is absent: axe-core is not installed at {AXE_CORE_JS}; the accessibility tests will skip")
else:
    print(f"axe-core: {install_axe()}")
print(f"chromium: {chromium() or 'absent: the browser tests will skip (make browser installs it)'}")
