"""Every catalog function, as the template deploys it: code, layers, role, logs, grants and triggers.

Expectations are derived from infra.catalog.FUNCTIONS, so a new catalog entry is checked without new tests.
"""

from __future__ import annotations

from typing import Any

import creative.config as creative_config
import pytest

from infra import constants
from infra.catalog import FUNCTIONS, FunctionSpec, Resource
from infra.constructs.storage import TABLE_DESIGNS

from .conftest import Resources, of_type, ref_of

SPECS = pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
INDEX_NAMES = {design.resource: {index.name for index in design.indexes} for design in TABLE_DESIGNS}


def _output_name(resource: Resource) -> str:
    pascal = "".join(part.capitalize() for part in resource.split("_"))
    return f"{pascal}Url" if resource.endswith("_queue") else f"{pascal}Name"


def _logical_id_of(resource: Resource, outputs: dict) -> str:
    return ref_of(outputs[_output_name(resource)])


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether a template value contains a Ref or Fn::GetAtt to `logical_id`."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id or value.get("Fn::GetAtt", [None])[0] == logical_id:
            return True
        return any(_refers_to(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, logical_id) for v in value)
    return False


def _function(spec: FunctionSpec, resources: Resources, function_ids: dict) -> tuple[str, dict]:
    (logical_id,) = function_ids[spec.name]
    return logical_id, resources[logical_id]["Properties"]


def _role_statements(role_id: str, resources: Resources) -> list[dict]:
    return [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_every_catalog_function_is_deployed_exactly_once(function_ids: dict) -> None:
    # Given the functions of the template, by the catalog name in their metadata
    # Then they are exactly the catalog's, one template function each
    assert sorted(function_ids) == sorted(spec.name for spec in FUNCTIONS)
    assert all(len(ids) == 1 for ids in function_ids.values()), function_ids


def test_the_only_other_function_is_cdks_model_deployment_handler(
    resources: Resources, function_ids: dict
) -> None:
    # Given the template's Lambda functions that are not catalog functions
    catalog_ids = {logical_id for ids in function_ids.values() for logical_id in ids}
    others = set(of_type(resources, "AWS::Lambda::Function")) - catalog_ids
    # Then each is the handler of a BucketDeployment (the model artifacts), and nothing else
    handlers = {
        custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        for custom in of_type(resources, "Custom::CDKBucketDeployment").values()
    }
    assert others == handlers


@SPECS
def test_function_runs_the_catalog_code_on_arm_python313_with_its_layers(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    # Given the function deployed for the catalog entry
    _, properties = _function(spec, resources, function_ids)
    # Then it runs what the catalog says, as the catalog sizes it
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == spec.handler
    assert properties["MemorySize"] == spec.memory_mb
    assert properties["Timeout"] == spec.timeout_s
    assert properties["TracingConfig"] == {"Mode": "Active"}
    # And it carries the domain layer, the dependency layer and exactly the extra layers its entry lists
    layer_names = [
        resources[layer["Ref"]]["Metadata"][constants.LAYER_METADATA_KEY] for layer in properties["Layers"]
    ]
    assert layer_names == ["creative", "deps", *spec.layers]


def test_each_extra_layer_is_attached_only_to_the_functions_listing_it(
    resources: Resources, function_ids: dict
) -> None:
    # Given every extra layer a catalog entry lists (the training layer: LightGBM and the ONNX converter)
    extra_layers = {layer for spec in FUNCTIONS for layer in spec.layers}
    assert "training" in extra_layers
    for layer_name in extra_layers:
        (layer_id,) = [
            logical_id
            for logical_id, layer in of_type(resources, "AWS::Lambda::LayerVersion").items()
            if layer.get("Metadata", {}).get(constants.LAYER_METADATA_KEY) == layer_name
        ]
        # Then exactly the functions whose entry lists it carry it (select never carries LightGBM)
        carriers = {
            spec.name
            for spec in FUNCTIONS
            if {"Ref": layer_id} in _function(spec, resources, function_ids)[1]["Layers"]
        }
        assert carriers == {spec.name for spec in FUNCTIONS if layer_name in spec.layers}
    assert {spec.name for spec in FUNCTIONS if "training" in spec.layers} == {"retrain_ctr"}


def test_retraining_is_scheduled_hourly_with_room_to_train(resources: Resources, function_ids: dict) -> None:
    # Given the deployed retraining function
    (function_id,) = function_ids["retrain_ctr"]
    properties = resources[function_id]["Properties"]
    # Then one rule runs it every hour
    schedules = [
        rule["Properties"]["ScheduleExpression"]
        for rule in of_type(resources, "AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    assert schedules == ["rate(1 hour)"]
    # And it has Lambda's longest timeout and memory enough for LightGBM
    assert (properties["Timeout"], properties["MemorySize"]) == (900, 2048)


def _resolved_for_test(value: Any) -> str:
    """A template environment value as a string: references become a placeholder physical name."""
    return value if isinstance(value, str) else f"resolved-{abs(hash(str(value))) % 10**8}"


@SPECS
def test_function_config_loads_from_the_environment_the_template_gives_it(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    # Given the environment the template deploys with the function
    _, properties = _function(spec, resources, function_ids)
    environment = {
        name: _resolved_for_test(value) for name, value in properties["Environment"]["Variables"].items()
    }
    # When its config model reads that environment, as the function does at cold start
    config = getattr(creative_config, spec.config_model).from_env(environment)
    # Then every resource the catalog names reaches the config (none left to a default)
    values = config.model_dump(by_alias=True)
    for variable in spec.resource_env:
        assert values[variable] == environment[variable]
    # And the racing functions read the same racer settings as each other
    if "RACER_PRIOR_STRENGTH" in environment:
        assert config.racer_config() == creative_config.RacerSettings().racer_config()
