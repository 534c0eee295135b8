"""Lambda aliases, which moto 5.2's CloudFormation does not know: locally an alias is its function.

A SnapStart function is invoked through its `live` alias (infra.constructs.function). moto skips the
AWS::Lambda::Alias resource and then fails on the API's permission that names it. The local runtime runs
each function's current code whichever version or alias is invoked, so the template moto deploys names the
function where the real one names its alias (`template.StackTemplate` follows an API route's alias the same way).
"""

from __future__ import annotations

import copy
from typing import Any

from local_runtime.references import rewritten

ALIAS = "AWS::Lambda::Alias"


def fold(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The template with every alias removed and each `Ref` to one replaced by its function's ARN, and the
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

    def function_of(reference: dict[str, Any], alias: str) -> Any:
        # CDK refers to an alias by Ref only; anything else is news, refused rather than left dangling
        if "Ref" not in reference:
            raise ValueError(f"cannot fold {reference} of alias {alias} into its function")
        return copy.deepcopy(functions[alias])

    return rewritten(folded, set(functions), function_of), list(functions)


def _named(function_name: Any) -> str:
    if isinstance(function_name, dict) and set(function_name) == {"Ref"}:
        return function_name["Ref"]
    raise ValueError(f"an alias of {function_name!r}: only an alias of a function in the stack is folded")
