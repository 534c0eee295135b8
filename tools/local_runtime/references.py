"""A template's references to resources the local runtime takes out of what moto deploys (stand_ins,
aliases): each is handed to a replacement, and DependsOn forgets the removed resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_runtime.intrinsics import SUB_VARIABLE

# Given a reference ({"Ref": ...}, {"Fn::GetAtt": ...} or {"Fn::Sub": ...}) and the removed resource it names,
# what stands in its place; the reference itself to keep it (its parts are still rewritten).
Replacement = Callable[[dict[str, Any], str], Any]


def _get_att_target(target: Any) -> str:
    return target[0] if isinstance(target, list) else str(target).split(".", 1)[0]


def _sub_names(value: Any) -> set[str]:
    """The resources an Fn::Sub's text names (`${Name}`, `${Name.Attribute}`; `${!Literal}` is no name)."""
    text = value if isinstance(value, str) else value[0]
    return {name.split(".", 1)[0] for name in SUB_VARIABLE.findall(text)}


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
    if len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Ref" and argument in removed:
        return argument
    if function == "Fn::GetAtt" and _get_att_target(argument) in removed:
        return _get_att_target(argument)
    if function == "Fn::Sub" and _sub_names(argument) & removed:
        return sorted(_sub_names(argument) & removed)[0]
    return None
