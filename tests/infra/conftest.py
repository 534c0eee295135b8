"""Fixtures of the template tests: the stack is synthesized once per session (and only when its sources
changed since the last synthesis, see stack_build.synth), then read as JSON and as an assertions.Template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Template
from stack_build.synth import synthesize

from infra import constants

Resources = dict[str, dict[str, Any]]


@pytest.fixture(scope="session")
def template_json() -> dict[str, Any]:
    return json.loads(synthesize().read_text())


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Template:
    return Template.from_json(template_json)


@pytest.fixture(scope="session")
def resources(template_json: dict[str, Any]) -> Resources:
    return template_json["Resources"]


@pytest.fixture(scope="session")
def outputs(template_json: dict[str, Any]) -> dict[str, Any]:
    return template_json["Outputs"]


@pytest.fixture(scope="session")
def function_ids(resources: Resources) -> dict[str, list[str]]:
    """Catalog function name -> logical ids of the Lambda functions carrying it in their metadata."""
    found: dict[str, list[str]] = {}
    for logical_id, resource in of_type(resources, "AWS::Lambda::Function").items():
        name = resource.get("Metadata", {}).get(constants.FUNCTION_METADATA_KEY)
        if name is not None:  # CDK's own handlers (the models BucketDeployment) carry no catalog name
            found.setdefault(name, []).append(logical_id)
    return found


@dataclass(frozen=True)
class ApiMethod:
    logical_id: str
    http_method: str
    path: str
    properties: dict[str, Any]


@pytest.fixture(scope="session")
def api_methods(resources: Resources) -> list[ApiMethod]:
    """Every AWS::ApiGateway::Method with its full path, rebuilt from the Resource/ParentId chain."""
    api_resources = of_type(resources, "AWS::ApiGateway::Resource")

    def path_of(resource_id: Any) -> str:
        if isinstance(resource_id, dict) and "Ref" in resource_id:
            node = api_resources[resource_id["Ref"]]["Properties"]
            return f"{path_of(node['ParentId'])}/{node['PathPart']}"
        return ""  # Fn::GetAtt [RestApi, RootResourceId]

    return [
        ApiMethod(
            logical_id=logical_id,
            http_method=method["Properties"]["HttpMethod"],
            path=path_of(method["Properties"]["ResourceId"]) or "/",
            properties=method["Properties"],
        )
        for logical_id, method in of_type(resources, "AWS::ApiGateway::Method").items()
    ]


def of_type(resources: Resources, resource_type: str) -> Resources:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == resource_type}


def ref_of(output: dict[str, Any]) -> str:
    """The logical id an output (or a property) refers to with {"Ref": ...}."""
    return output["Value"]["Ref"] if "Value" in output else output["Ref"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
