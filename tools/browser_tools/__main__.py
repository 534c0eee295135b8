"""`python -m browser_tools`: installs the pinned axe-core for the console's browser tests."""

from browser_tools import chromium, install_axe

print(f"axe-core: {install_axe()}")
print(f"chromium: {chromium() or 'absent: the browser tests will skip (make browser installs it)'}")
