"""CloudFormation intrinsic functions, evaluated against a deployed stack's physical names.

The template says `{"Ref": "MaterialsTable1234"}`; a handler needs `CreativeEngine-MaterialsTable-XYZ`.
This covers what a CDK-synthesized template puts in environment variables, outputs and trigger
properties: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If (with Conditions),
Fn::Base64 and the pseudo parameters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from local_runtime.deployed_stack import DeployedStack

URL_SUFFIX = "amazonaws.com"
NO_VALUE = object()  # AWS::NoValue: the enclosing property or list item disappears


class UnresolvableIntrinsic(ValueError):
    pass


def resolve(value: Any, stack: DeployedStack) -> Any:
    """The value CloudFormation would have computed for `value` in `stack`."""
    if isinstance(value, list):
        return [item for item in (resolve(v, stack) for v in value) if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return ref(argument, stack)
        if name in _FUNCTIONS:
            return _FUNCTIONS[name](argument, stack)
    return {k: v for k, v in ((k, resolve(v, stack)) for k, v in value.items()) if v is not NO_VALUE}


def ref(name: str, stack: DeployedStack) -> Any:
    pseudo = _pseudo_parameters(stack)
    if name in pseudo:
        return pseudo[name]
    if name in stack.parameters:
        return stack.parameters[name]
    if name in stack.resources:
        return stack.physical_id(name)
    raise UnresolvableIntrinsic(f"Ref to unknown name {name!r}")


def get_att(logical_id: str, attribute: str, stack: DeployedStack) -> str:
    resource_type = stack.resource_type(logical_id)
    builder = _ATTRIBUTES.get((resource_type, attribute))
    if builder is None:
        raise UnresolvableIntrinsic(f"Fn::GetAtt {logical_id}.{attribute} ({resource_type}) is not supported")
    return builder(stack.physical_id(logical_id), stack)


def _pseudo_parameters(stack: DeployedStack) -> dict[str, Any]:
    return {
        "AWS::AccountId": stack.account_id,
        "AWS::Region": stack.region,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": URL_SUFFIX,
        "AWS::StackName": stack.stack_name,
        "AWS::StackId": stack.stack_id,
        "AWS::NoValue": NO_VALUE,
    }


def _get_att(argument: Any, stack: DeployedStack) -> str:
    logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
    return get_att(logical_id, resolve(attribute, stack), stack)


def _join(argument: list[Any], stack: DeployedStack) -> str:
    delimiter, items = argument
    return resolve(delimiter, stack).join(str(item) for item in resolve(items, stack))


SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def _sub(argument: Any, stack: DeployedStack) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {name: resolve(v, stack) for name, v in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if "." in name and name.split(".", 1)[0] in stack.resources:
            return _get_att(name, stack)
        return str(ref(name, stack))

    # "${!Literal}" stands for the text "${Literal}".
    return SUB_VARIABLE.sub(substitute, text).replace("${!", "${")


def _select(argument: list[Any], stack: DeployedStack) -> Any:
    index, items = argument
    return resolve(items, stack)[int(resolve(index, stack))]


def _split(argument: list[Any], stack: DeployedStack) -> list[str]:
    delimiter, text = argument
    return resolve(text, stack).split(resolve(delimiter, stack))


def _if(argument: list[Any], stack: DeployedStack) -> Any:
    condition, when_true, when_false = argument
    return resolve(when_true if condition_holds(condition, stack) else when_false, stack)


def _base64(argument: Any, stack: DeployedStack) -> str:
    return base64.b64encode(str(resolve(argument, stack)).encode()).decode()


def condition_holds(name: str, stack: DeployedStack) -> bool:
    return evaluate_condition(stack.template.get("Conditions", {})[name], stack)


def evaluate_condition(expression: Any, stack: DeployedStack) -> bool:
    if isinstance(expression, bool):
        return expression
    ((name, argument),) = expression.items()
    if name == "Condition":
        return condition_holds(argument, stack)
    if name == "Fn::Equals":
        left, right = (resolve(side, stack) for side in argument)
        return str(left) == str(right)
    if name == "Fn::Not":
        return not evaluate_condition(argument[0], stack)
    if name == "Fn::And":
        return all(evaluate_condition(part, stack) for part in argument)
    if name == "Fn::Or":
        return any(evaluate_condition(part, stack) for part in argument)
    if name == "Fn::Contains":
        items, item = (resolve(part, stack) for part in argument)
        return item in items
    raise UnresolvableIntrinsic(f"condition function {name} is not supported")


_FUNCTIONS: dict[str, Callable[[Any, DeployedStack], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Base64": _base64,
}


def _arn(service: str, resource: str, stack: DeployedStack, *, regional: bool = True) -> str:
    region = stack.region if regional else ""
    account = stack.account_id if service != "s3" else ""
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _queue_name(queue_url: str) -> str:
    return urlparse(queue_url).path.rstrip("/").rsplit("/", 1)[-1]


_ATTRIBUTES: dict[tuple[str, str], Callable[[str, DeployedStack], str]] = {
    ("AWS::Lambda::Function", "Arn"): lambda name, s: _arn("lambda", f"function:{name}", s),
    ("AWS::SQS::Queue", "Arn"): lambda url, s: _arn("sqs", _queue_name(url), s),
    ("AWS::SQS::Queue", "QueueName"): lambda url, s: _queue_name(url),
    ("AWS::SQS::Queue", "QueueUrl"): lambda url, s: url,
    ("AWS::DynamoDB::Table", "Arn"): lambda name, s: _arn("dynamodb", f"table/{name}", s),
    ("AWS::S3::Bucket", "Arn"): lambda name, s: f"arn:aws:s3:::{name}",
    ("AWS::S3::Bucket", "DomainName"): lambda name, s: f"{name}.s3.{URL_SUFFIX}",
    ("AWS::S3::Bucket", "RegionalDomainName"): lambda name, s: f"{name}.s3.{s.region}.{URL_SUFFIX}",
    ("AWS::Events::Rule", "Arn"): lambda name, s: _arn("events", f"rule/{name}", s),
    ("AWS::IAM::Role", "Arn"): lambda name, s: f"arn:aws:iam::{s.account_id}:role/{name}",
    ("AWS::SNS::Topic", "TopicName"): lambda arn, s: arn.rsplit(":", 1)[-1],
    ("AWS::Logs::LogGroup", "Arn"): lambda name, s: _arn("logs", f"log-group:{name}:*", s),
    ("AWS::ApiGateway::RestApi", "RestApiId"): lambda api_id, s: api_id,
}
