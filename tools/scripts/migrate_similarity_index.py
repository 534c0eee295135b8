"""Moves a deployed near-duplicate index from one item per (hash bucket, material) to the layout of
`creative.adapters.dynamodb_similarity_index` (member sets per bucket, one item per fingerprint).

    python tools/scripts/migrate_similarity_index.py --table <SimilarityTable name> [--dry-run]

Stacks deployed before 2026-12-01 hold old items, which lookups no longer read: without this, materials
indexed before the upgrade are never found as near-duplicates. Each material is filed again under every
key it had, from the fingerprint its old items carry, and its old items are then deleted; a run that stops
halfway is finished by running it again (filing is idempotent). One Scan of the table, so run it once,
after the deploy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_similarity_index import FINGERPRINTS, MEMBERS, DynamoSimilarityIndex, entry_of
from creative.adapters.dynamodb_table import DynamoTable


def old_entries(table: DynamoTable) -> Iterator[tuple[str, str, list[str], list[dict[str, Any]]]]:
    """(scope, material id, its keys, its old items) for every material filed in the old layout."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in table.all("scan"):
        if item["material_id"] == MEMBERS or item["bucket"].endswith(f"#{FINGERPRINTS}"):
            continue
        scope = item["bucket"].rsplit("#", 1)[0]
        grouped.setdefault((scope, item["material_id"]), []).append(item)
    for (scope, material_id), items in sorted(grouped.items()):
        yield scope, material_id, [item["bucket"].rsplit("#", 1)[1] for item in items], items


def migrate(client: Any, table_name: str, *, dry_run: bool = False) -> int:
    """Re-files every old-layout material and deletes its old items; the number of materials moved."""
    table = DynamoTable(client, table_name)
    index = DynamoSimilarityIndex(client, table_name)
    moved = 0
    for scope, material_id, keys, items in old_entries(table):
        moved += 1
        if dry_run:
            continue
        index.add(scope, keys, entry_of(items[0]))
        table.batch_write(
            [
                {"DeleteRequest": {"Key": to_item({"bucket": i["bucket"], "material_id": material_id})}}
                for i in items
            ]
        )
    return moved


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the stack's similarity table (physical name)")
    parser.add_argument("--dry-run", action="store_true", help="count what would move; change nothing")
    args = parser.parse_args(argv)
    moved = migrate(boto3.client("dynamodb"), args.table, dry_run=args.dry_run)
    print(f"{'would move' if args.dry_run else 'moved'} {moved} materials to the bucket layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
