"""Resources only AWS serves, which the local runtime stands in for, taken out of the template moto deploys.

moto 5.2's CloudFormation knows neither CloudFront nor Cognito (a reference to them fails the whole stack).
Locally the runtime serves the console's files itself (console_site, with the same security headers) and
checks the operator key where AWS would check a user pool's ID token (api_gateway), so these resources have
nothing to do here. References to them become the string `local-stand-in:<logical id>[.<attribute>]`, which
makes a property that names one (the uploads bucket's CORS origin, an output) visibly local.
"""

from __future__ import annotations

import copy
from typing import Any

from local_runtime.references import rewritten

STOOD_IN: dict[str, str] = {
    "AWS::CloudFront::Distribution": "console_site serves the console's files at /console/",
    "AWS::CloudFront::OriginAccessControl": "no distribution reads the console's bucket locally",
    "AWS::CloudFront::ResponseHeadersPolicy": "console_site sends the same headers (infra.console_policy)",
    "AWS::CloudFront::CachePolicy": "the local API is called directly, with nothing in between to cache",
    "AWS::Cognito::UserPool": "the printed operator key stands in for an operator's sign-in",
    "AWS::Cognito::UserPoolClient": "the console signs in with the operator key locally",
    "AWS::ApiGateway::Authorizer": "api_gateway checks the operator key on COGNITO_USER_POOLS methods",
}
PLACEHOLDER = "local-stand-in:"


def split_off(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The template without the stood-in resources (what moto gets), and their logical ids."""
    removed = [
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") in STOOD_IN
    ]
    remaining = copy.deepcopy(template)
    for logical_id in removed:
        del remaining["Resources"][logical_id]
    return rewritten(remaining, set(removed), _placeholder), removed


def _placeholder(reference: dict[str, Any], name: str) -> Any:
    if "Ref" in reference:
        return PLACEHOLDER + name
    if "Fn::GetAtt" in reference:
        target = reference["Fn::GetAtt"]
        return PLACEHOLDER + (".".join(target) if isinstance(target, list) else target)
    return reference  # an Fn::Sub keeps its text: nothing the runtime reads uses one
