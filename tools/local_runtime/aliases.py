"""Lambda aliases, which moto 5.2's CloudFormation does not know: locally an alias is its function.

A SnapStart function is invoked through its `live` alias (infra.constructs.function). moto skips the
AWS::Lambda::Alias resource and then fails on the API's permission that names it. The local runtime runs
each function's current code whichever version or alias is invoked, so the template moto deploys names the
function where the real one names its alias (`template.Template` follows an API route's alias the same way).
"""

from __future__ import annotations

import copy
import re
from typing import Any

ALIAS = "AWS::Lambda::Alias"


def fold(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The template with every alias removed and each `Ref` to one replaced by its function's, and the
    aliases' logical ids."""
    # A Ref to an alias is its ARN (a Ref to a function is its name): the function's ARN stands in for it,
    # which is as valid a `FunctionName` and reads the same inside an integration URI.
    functions = {
        logical_id: {"Fn::GetAtt": [_named(resource["Properties"]["FunctionName"]), "Arn"]}
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == ALIAS
    }
    folded = copy.deepcopy(template)
    for logical_id in functions:
        del folded["Resources"][logical_id]
    return _replaced(folded, functions), list(functions)


def _named(function_name: Any) -> str:
    if isinstance(function_name, dict) and set(function_name) == {"Ref"}:
        return function_name["Ref"]
    raise ValueError(f"an alias of {function_name!r}: only an alias of a function in the stack is folded")


def _replaced(value: Any, functions: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            named = {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            if named & set(functions):
                raise ValueError(
                    f"cannot fold Fn::Sub {text!r}, which names alias {sorted(named & set(functions))}"
                )
        if set(value) == {"Ref"} and value["Ref"] in functions:
            return copy.deepcopy(functions[value["Ref"]])
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
            if name in functions:  # CDK refers to an alias by Ref only; anything else is news
                raise ValueError(f"cannot fold Fn::GetAtt {target} of alias {name} into its function")
        if "DependsOn" in value and isinstance(value["DependsOn"], (list, str)):
            depends = [value["DependsOn"]] if isinstance(value["DependsOn"], str) else value["DependsOn"]
            value = {**value, "DependsOn": [d for d in depends if d not in functions]}
        return {key: _replaced(item, functions) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, functions) for item in value]
    return value
