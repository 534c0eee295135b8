"""Every tag id the system can give, with its human name: what operators may add and what the console shows.

Read from the tagger artifact's `tagger.json` (IAB 3.x nodes, selling points, colours) plus the fixed
brightness and orientation facts.
"""

from __future__ import annotations

import json
from pathlib import Path

BRIGHTNESS = ("dark", "normal", "bright")
ORIENTATIONS = ("landscape", "portrait", "square")


class TagVocabulary:
    def __init__(self, names: dict[str, str], version: str):
        self.names = names
        self.version = version

    @classmethod
    def from_config(cls, config: dict) -> TagVocabulary:
        names = {f"iab:{n['id']}": n["path"] for n in config["iab"]["nodes"]}
        selling = config["selling"]
        names |= {f"selling:{t}": n for t, n in zip(selling["ids"], selling["names"], strict=True)}
        names |= {f"colour:{c}": c for c in config["image"]["colours"]}
        names |= {f"brightness:{b}": b for b in BRIGHTNESS}
        names |= {f"orientation:{o}": o for o in ORIENTATIONS}
        return cls(names, config["version"])

    @classmethod
    def read(cls, tagger_dir: Path) -> TagVocabulary:
        return cls.from_config(json.loads((tagger_dir / "tagger.json").read_text()))

    def __contains__(self, tag: str) -> bool:
        return tag in self.names
