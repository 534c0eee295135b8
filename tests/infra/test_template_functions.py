"""Every catalog function, as the template deploys it: code, layers, role, logs, grants and triggers.

Expectations are derived from infra.catalog.FUNCTIONS, so a new catalog entry is checked without new tests.
"""

from __future__ import annotations

import json
import re
from typing import Any

import creative.config as creative_config
import pytest
from creative import wiring

from infra import constants
from infra.catalog import FUNCTIONS, ApiRoute, FunctionSpec, QueueTrigger, Resource, ScheduleTrigger
from infra.constructs.storage import TABLE_DESIGNS

from .conftest import ApiMethod, Resources, as_list, of_type, ref_of

SPECS = pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
# Services whose grants the catalog declares one by one (logs and X-Ray come with every function).
DATA_SERVICES = ("s3", "dynamodb", "events")
LOG_RETENTION_DAYS = 30  # constants.FUNCTION_LOG_RETENTION
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


def _of_function(resources: Resources, resource_type: str, function_id: str) -> dict[str, dict]:
    """The properties of each resource of `resource_type` that names the function, by logical id."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in of_type(resources, resource_type).items()
        if resource["Properties"]["FunctionName"] == {"Ref": function_id}
    }


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


@SPECS
def test_function_environment_names_its_resources(
    spec: FunctionSpec, resources: Resources, function_ids: dict, outputs: dict
) -> None:
    _, properties = _function(spec, resources, function_ids)
    variables = properties["Environment"]["Variables"]
    # Then each resource variable carries that resource's physical name (a Ref to it)
    for variable, resource in spec.resource_env.items():
        assert variables[variable] == {"Ref": _logical_id_of(resource, outputs)}, variable
    # And the literal variables and Powertools settings are there
    for variable, value in spec.env.items():
        assert variables[variable] == value
    assert variables["POWERTOOLS_SERVICE_NAME"] == "creative-engine"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == constants.POWERTOOLS_METRICS_NAMESPACE
    assert "LOG_LEVEL" in variables


def test_every_function_has_its_own_role_without_managed_policies(
    resources: Resources, function_ids: dict
) -> None:
    # Given the role of each function
    roles = {
        spec.name: _function(spec, resources, function_ids)[1]["Role"]["Fn::GetAtt"][0] for spec in FUNCTIONS
    }
    # Then no two functions share one
    assert len(set(roles.values())) == len(roles)
    for name, role_id in roles.items():
        role = resources[role_id]["Properties"]
        # And only Lambda can assume it
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ], name
        # And every permission is written out: no managed policy
        assert "ManagedPolicyArns" not in role, name


@SPECS
def test_function_logs_to_its_own_log_group_with_retention(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    _, properties = _function(spec, resources, function_ids)
    # Then the function logs to a log group of the template (not one Lambda creates on first run)
    log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = resources[log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    # And that log group expires its events
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS
    # And the function's role may write to that log group only
    role_id = properties["Role"]["Fn::GetAtt"][0]
    log_statements = [
        s
        for s in _role_statements(role_id, resources)
        if any(a.startswith("logs:") for a in as_list(s["Action"]))
    ]
    assert log_statements and all(
        s["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]} for s in log_statements
    )


def test_no_two_functions_share_a_log_group(resources: Resources, function_ids: dict) -> None:
    log_groups = [
        _function(spec, resources, function_ids)[1]["LoggingConfig"]["LogGroup"]["Ref"] for spec in FUNCTIONS
    ]
    assert len(set(log_groups)) == len(FUNCTIONS)


def _grants(spec: FunctionSpec, resources: Resources, function_ids: dict) -> list[tuple[str, Any, dict]]:
    """Every (action, resource, statement) the function's role allows."""
    _, properties = _function(spec, resources, function_ids)
    statements = _role_statements(properties["Role"]["Fn::GetAtt"][0], resources)
    return [(a, r, s) for s in statements for a in as_list(s["Action"]) for r in as_list(s["Resource"])]


def _declared_grants(spec: FunctionSpec, outputs: dict) -> set[tuple[str, str]]:
    """(action, resource as JSON) for exactly what the catalog declares."""
    granted = set()
    for access in spec.access:
        arn = {"Fn::GetAtt": [_logical_id_of(access.resource, outputs), "Arn"]}
        for action in access.actions:
            if access.resource.endswith("_bus"):
                granted.add((action, repr(arn)))
            elif access.resource.endswith("_bucket"):
                objects = {"Fn::Join": ["", [arn, f"/{access.prefix or ''}*"]]}
                granted.add((action, repr(arn if action in constants.BUCKET_LEVEL_ACTIONS else objects)))
            else:
                granted.add((action, repr(arn)))
                if action in constants.INDEX_ACTIONS:
                    for index in INDEX_NAMES[access.resource]:
                        granted.add((action, repr({"Fn::Join": ["", [arn, f"/index/{index}"]]})))
    return granted


@SPECS
def test_function_role_grants_exactly_the_declared_data_actions(
    spec: FunctionSpec, resources: Resources, function_ids: dict, outputs: dict
) -> None:
    # Given every S3 and DynamoDB permission the role has, and what the catalog declares
    data = {
        (action, repr(resource))
        for action, resource, _ in _grants(spec, resources, function_ids)
        if action.split(":")[0] in DATA_SERVICES
    }
    # Then they are the same set: nothing more (no Delete, no other table or bus), nothing less
    assert data == _declared_grants(spec, outputs)


@SPECS
def test_function_role_has_no_wildcards_but_xray_and_no_conditions_on_data(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    for action, resource, statement in _grants(spec, resources, function_ids):
        # X-Ray supports no resource-level permissions; nothing else may use "*" in an action or a resource
        assert "*" not in action, action
        if resource == "*":
            assert action.startswith("xray:"), statement
        if action.split(":")[0] in DATA_SERVICES:
            assert "Condition" not in statement, statement


@SPECS
def test_function_api_routes_are_wired_once(
    spec: FunctionSpec, resources: Resources, function_ids: dict, api_methods: list[ApiMethod]
) -> None:
    function_id, _ = _function(spec, resources, function_ids)
    # A SnapStart function is invoked through its live alias (a published version), any other directly
    invoked_id = _live_alias(function_id, resources) if spec.snap_start else function_id
    for route in (t for t in spec.triggers if isinstance(t, ApiRoute)):
        # Then exactly one method serves the route, proxying to this function
        methods = [m for m in api_methods if (m.http_method, m.path) == (route.method, route.path)]
        assert len(methods) == 1, route
        integration = methods[0].properties["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert _refers_to(integration["Uri"], invoked_id)
        # And API Gateway may invoke what the method names, on this route
        permissions = [
            p["Properties"]
            for p in of_type(resources, "AWS::Lambda::Permission").values()
            if _refers_to(p["Properties"]["FunctionName"], invoked_id)
            and p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        ]
        source_path = re.sub(r"{\w+}", "*", route.path)
        assert any(f'"/{route.method}{source_path}"' in json.dumps(p["SourceArn"]) for p in permissions), (
            route
        )


def _live_alias(function_id: str, resources: Resources) -> str:
    """The logical id of the function's one alias, which must be `live` on its current version."""
    ((alias_id, alias),) = _of_function(resources, "AWS::Lambda::Alias", function_id).items()
    assert alias["Name"] == "live"
    version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
    assert resources[version_id]["Properties"]["FunctionName"] == {"Ref": function_id}
    return alias_id


@SPECS
def test_snap_start_takes_the_snapshot_of_published_versions_of_the_request_path_functions(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    function_id, properties = _function(spec, resources, function_ids)
    versions = [resources[i] for i in _of_function(resources, "AWS::Lambda::Version", function_id)]
    if not spec.snap_start:
        assert "SnapStart" not in properties and versions == []
        return
    assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # One version at a time: the one the alias left is deleted with its snapshot, not kept and billed
    (version,) = versions
    assert version["DeletionPolicy"] == "Delete" and version["UpdateReplacePolicy"] == "Delete"
    # SnapStart refuses more than 512 MB of /tmp and needs no EFS
    assert properties.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
    assert "FileSystemConfigs" not in properties


@SPECS
def test_function_queue_triggers_are_wired_once(
    spec: FunctionSpec, resources: Resources, function_ids: dict, outputs: dict
) -> None:
    function_id, _ = _function(spec, resources, function_ids)
    mappings = list(_of_function(resources, "AWS::Lambda::EventSourceMapping", function_id).values())
    triggers = [t for t in spec.triggers if isinstance(t, QueueTrigger)]
    assert len(mappings) == len(triggers)
    for trigger in triggers:
        # Then the queue feeds the function in the declared batches, reporting partial failures
        queue_arn = {"Fn::GetAtt": [_logical_id_of(trigger.queue, outputs), "Arn"]}
        (mapping,) = [m for m in mappings if m["EventSourceArn"] == queue_arn]
        assert mapping["BatchSize"] == trigger.batch_size
        assert mapping["MaximumBatchingWindowInSeconds"] == trigger.max_batching_window_s
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


@SPECS
def test_function_schedules_are_wired_once_with_retries_and_dead_letters(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    function_id, properties = _function(spec, resources, function_ids)
    targets = [
        (rule["Properties"], target)
        for rule in of_type(resources, "AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    triggers = [t for t in spec.triggers if isinstance(t, ScheduleTrigger)]
    assert sorted(rule["ScheduleExpression"] for rule, _ in targets) == sorted(t.expression for t in triggers)
    for _, target in targets:
        # Then EventBridge retries a failed delivery, then dead-letters it
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert "Arn" in target["DeadLetterConfig"]
    if triggers:
        # And the function dead-letters runs that failed after Lambda's own retries
        assert "TargetArn" in properties["DeadLetterConfig"]
        # And Lambda retries a failed run as often as the schedule declares, never one too old
        (invoke_config,) = _of_function(resources, "AWS::Lambda::EventInvokeConfig", function_id).values()
        assert invoke_config["MaximumRetryAttempts"] == min(t.retries for t in triggers)
        assert invoke_config["MaximumEventAgeInSeconds"] == min(t.max_event_age_s for t in triggers)


def test_the_retraining_run_is_not_retried_blindly(resources: Resources, function_ids: dict) -> None:
    # A 15-minute run that failed would run twice more for nothing: the next hourly run covers it
    (spec,) = [s for s in FUNCTIONS if s.name == "retrain_ctr"]
    function_id, _ = _function(spec, resources, function_ids)
    (invoke_config,) = _of_function(resources, "AWS::Lambda::EventInvokeConfig", function_id).values()
    assert invoke_config["MaximumRetryAttempts"] == 0
    assert invoke_config["MaximumEventAgeInSeconds"] <= spec.timeout_s


def test_no_trigger_exists_that_the_catalog_does_not_declare(
    resources: Resources, api_methods: list[ApiMethod]
) -> None:
    # Given every trigger the catalog declares
    declared = [trigger for spec in FUNCTIONS for trigger in spec.triggers]
    # Then the template has that many API methods, queue mappings and schedules, and no more
    assert len(api_methods) == sum(isinstance(t, ApiRoute) for t in declared)
    assert len(of_type(resources, "AWS::Lambda::EventSourceMapping")) == sum(
        isinstance(t, QueueTrigger) for t in declared
    )
    schedules = [
        r for r in of_type(resources, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    assert len(schedules) == sum(isinstance(t, ScheduleTrigger) for t in declared)


def _deployment_handler_ids(resources: Resources, function_ids: dict) -> list[str]:
    catalog_ids = {logical_id for ids in function_ids.values() for logical_id in ids}
    return sorted(set(of_type(resources, "AWS::Lambda::Function")) - catalog_ids)


def test_there_are_two_deployment_handlers_models_and_console(
    resources: Resources, function_ids: dict
) -> None:
    # CDK makes one handler per memory size: the models' (1 GiB, large files) and the console's (default)
    assert len(_deployment_handler_ids(resources, function_ids)) == 2


@pytest.mark.parametrize("index", [0, 1])
def test_the_deployment_handlers_have_their_own_role_and_logs(
    resources: Resources, function_ids: dict, index: int
) -> None:
    # Given a function the catalog does not declare: CDK's BucketDeployment handler (models, console)
    catalog_ids = {logical_id for ids in function_ids.values() for logical_id in ids}
    handler_id = _deployment_handler_ids(resources, function_ids)[index]
    handler = resources[handler_id]["Properties"]
    role_id = handler["Role"]["Fn::GetAtt"][0]
    # Then its role is its own: no catalog function assumes it
    catalog_roles = {resources[i]["Properties"]["Role"]["Fn::GetAtt"][0] for i in catalog_ids}
    assert role_id not in catalog_roles
    # And the only managed policy on it is basic execution (its own logs), as acknowledged for cdk-nag
    managed = resources[role_id]["Properties"].get("ManagedPolicyArns", [])
    assert [str(arn) for arn in managed] == [
        str(
            {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                    ],
                ]
            }
        )
    ]
    # And it logs to a log group of the template that expires its events
    log_group = resources[handler["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_concurrency_is_capped_as_the_catalog_declares(
    spec: FunctionSpec, resources: Resources, function_ids: dict
) -> None:
    function_id, properties = _function(spec, resources, function_ids)
    # Reserved concurrency where declared (retraining: one run at a time), nowhere else
    assert properties.get("ReservedConcurrentExecutions") == spec.reserved_concurrency
    # And queue-fed functions are capped on their event source, where throttling cannot dead-letter
    mappings = list(_of_function(resources, "AWS::Lambda::EventSourceMapping", function_id).values())
    declared = [t for t in spec.triggers if isinstance(t, QueueTrigger)]
    assert sorted(m["ScalingConfig"]["MaximumConcurrency"] for m in mappings) == sorted(
        t.max_concurrency for t in declared
    )


@pytest.mark.parametrize("name", ["select", "feedback", "operator_api"])
def test_an_api_functions_aws_calls_give_up_before_the_function_does(name: str) -> None:
    # A hung DynamoDB or S3 call must end in the function's own 503, not in a Lambda timeout (API
    # Gateway's 502) or API Gateway's 29 s limit: its worst case leaves the function at least 1 s
    (spec,) = [s for s in FUNCTIONS if s.name == name]
    config = wiring.API_CLIENT
    attempts = config.retries["total_max_attempts"]  # the first attempt included
    # botocore's standard mode waits random() * 2 ** (retry - 1) s before each retry: < 1 s, then < 2 s, ...
    backoff = sum(2 ** (retry - 1) for retry in range(1, attempts))
    worst = (config.connect_timeout + config.read_timeout) * attempts + backoff
    assert worst + 1 <= min(spec.timeout_s, 29)


def test_deployed_api_functions_keep_the_bounds_only_the_local_runtime_relaxes(monkeypatch) -> None:
    # No variable in the template relaxes them; the local runtime sets its own for moto on a laptop
    template_env = {name for spec in FUNCTIONS for name in (*spec.env, *spec.resource_env)}
    assert wiring.LOCAL_READ_TIMEOUT_ENV not in template_env
    monkeypatch.delenv(wiring.LOCAL_READ_TIMEOUT_ENV, raising=False)
    wiring.api_client.cache_clear()
    assert wiring.api_client() is wiring.API_CLIENT
    monkeypatch.setenv(wiring.LOCAL_READ_TIMEOUT_ENV, "10")
    wiring.api_client.cache_clear()
    relaxed = wiring.api_client()
    assert relaxed.read_timeout == 10 and relaxed.connect_timeout == wiring.API_CLIENT.connect_timeout
    assert relaxed.retries == wiring.API_CLIENT.retries
    wiring.api_client.cache_clear()


class _EmptyBody:
    def stream(self, **_):
        yield b""


def test_an_api_client_makes_exactly_the_attempts_its_worst_case_counts(monkeypatch) -> None:
    # botocore reads `max_attempts` as retries (one more attempt than it says) and rewrites it in place
    # when a client is made; the bound above holds only if `total_max_attempts` is what the SDK does.
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    monkeypatch.setattr("time.sleep", lambda _s: None)
    sent = []

    def answer_503(request, **_):
        sent.append(request.url)
        return AWSResponse(request.url, 503, {}, _EmptyBody())

    for _client in range(2):  # the second client is made from the config the first one saw
        client = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
            config=wiring.API_CLIENT,
        )
        client.meta.events.register("before-send.dynamodb", answer_503)
        sent.clear()
        with pytest.raises(ClientError):
            client.get_item(TableName="t", Key={"k": {"S": "1"}})
        assert len(sent) == wiring.API_CLIENT.retries["total_max_attempts"] == 2
