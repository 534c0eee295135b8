"""A template's references to resources the local runtime takes out of what moto deploys (stand_ins,
aliases): each is handed to a replacement, and DependsOn forgets the removed resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_runtime.template import referenced_logical_id, sub_names

# Given a reference ({"Ref": ...}, {"Fn::GetAtt": ...} or {"Fn::Sub": ...}) and the removed resource it names,
# what stands in its place; the reference itself to keep it (its parts are still rewritten).
Replacement = Callable[[dict[str, Any], str], Any]


def rewritten(value: Any, removed: set[str], replace: Replacement) -> Any:
    if isinstance(value, dict):
        named = _removed_name(value, removed)
        if named is not None and (replacement := replace(value, named)) is not value:
            return replacement
        if "DependsOn" in value and isinstance(value["DependsOn"], (list, str)):
            depends = [value["DependsOn"]] if isinstance(value["DependsOn"], str) else value["DependsOn"]
            value = {**value, "DependsOn": [d for d in depends if d not in removed]}
        return {key: rewritten(item, removed, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [rewritten(item, removed, replace) for item in value]
    return value


def _removed_name(value: dict[str, Any], removed: set[str]) -> str | None:
    named = referenced_logical_id(value)
    if named is not None:
        return named if named in removed else None
    if len(value) == 1 and "Fn::Sub" in value:
        return next((name for name in sub_names(value["Fn::Sub"]) if name in removed), None)
    return None
