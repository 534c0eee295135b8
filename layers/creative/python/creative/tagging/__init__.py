"""Tagging: multi-label tags on admitted images and copy, from the models served in the tagging function."""
