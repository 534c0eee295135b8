"""The synthesized template deploys into moto's CloudFormation, and the local runtime serves every
function with the trigger the template (made from infra/catalog.py) declares."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from local_runtime.cli import EXAMPLE_IMAGE, select_curl, upload_command
from local_runtime.intrinsics import get_att, resolve
from local_runtime.runtime import LocalRuntime
from local_runtime.template import StackTemplate, resolve_environment
from PIL import Image
from stack_build.synth import DEFAULT_OUTDIR, synthesize

from infra import catalog

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    synthesize()
    with LocalRuntime(assembly_dir=DEFAULT_OUTDIR) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def template(local: LocalRuntime) -> dict[str, Any]:
    return local.stack.template


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def test_the_stack_is_create_complete(local):
    (stack,) = local.client("cloudformation").describe_stacks(StackName=catalog.STACK_NAME)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_tables_have_the_templates_keys_and_indexes(local, template):
    dynamodb = local.client("dynamodb")
    for logical_id, resource in of_type(template, "AWS::DynamoDB::Table").items():
        # Given each table the template declares
        declared = resource["Properties"]
        # When moto describes the table CloudFormation created
        table = dynamodb.describe_table(TableName=local.stack.physical_id(logical_id))["Table"]
        # Then its key schema and global secondary indexes are the declared ones
        assert table["KeySchema"] == declared["KeySchema"], logical_id
        indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {i["IndexName"]: i["KeySchema"] for i in declared.get("GlobalSecondaryIndexes", [])}


def test_queues_exist_with_their_dead_letter_redrive(local, template):
    sqs = local.client("sqs")
    queues = of_type(template, "AWS::SQS::Queue")
    redriven = {lid: r for lid, r in queues.items() if "RedrivePolicy" in r.get("Properties", {})}
    assert redriven, "the stack's queues should dead-letter what keeps failing"
    for logical_id in queues:  # every declared queue exists
        local.client("sqs").get_queue_attributes(QueueUrl=local.stack.physical_id(logical_id))
    for logical_id, resource in redriven.items():
        declared = resource["Properties"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=local.stack.physical_id(logical_id), AttributeNames=["All"]
        )
        # Then each redrive policy names the declared DLQ and receive count
        policy = json.loads(attributes["Attributes"]["RedrivePolicy"])
        assert policy["deadLetterTargetArn"] == resolve(
            declared["RedrivePolicy"]["deadLetterTargetArn"], local.stack
        )
        assert policy["maxReceiveCount"] == int(declared["RedrivePolicy"]["maxReceiveCount"])
        assert attributes["Attributes"]["VisibilityTimeout"] == str(declared.get("VisibilityTimeout", 30))


def test_one_function_per_catalog_entry_with_the_templates_configuration(local, template):
    lambda_client = local.client("lambda")
    declared = StackTemplate(template).functions()
    # Given the catalog, Then the template has each of its functions exactly once
    assert sorted(f.name for f in declared.values()) == sorted(spec.name for spec in catalog.FUNCTIONS)
    for logical_id, function in declared.items():
        spec = catalog.function_by_name(function.name)
        # When moto describes the function CloudFormation created
        config = lambda_client.get_function_configuration(FunctionName=local.stack.physical_id(logical_id))
        # Then it has the catalog's settings
        assert (config["MemorySize"], config["Timeout"], config["Handler"]) == (
            spec.memory_mb,
            spec.timeout_s,
            spec.handler,
        )
        # And the environment the local runtime resolves is the one moto's CloudFormation resolved
        assert resolve_environment(function, local.stack) == config["Environment"]["Variables"]


def test_the_rest_api_has_the_templates_resources_and_methods(local, template):
    parsed = StackTemplate(template)
    (api_logical_id,) = of_type(template, "AWS::ApiGateway::RestApi")
    api_id = local.stack.physical_id(api_logical_id)
    items = local.client("apigateway").get_resources(restApiId=api_id, limit=500)["items"]
    # Then moto's API has every declared path, each with the declared methods
    deployed = {r["path"]: sorted(r.get("resourceMethods", {})) for r in items}
    declared: dict[str, list[str]] = {path: [] for path in parsed.resource_paths().values()}
    for route in parsed.api_routes():
        declared.setdefault(route.resource_path, []).append(route.method)
    assert {p: sorted(m) for p, m in declared.items()} == {p: m for p, m in deployed.items() if p != "/"}
    # And the stage and the racing API key exist
    assert [s["stageName"] for s in local.client("apigateway").get_stages(restApiId=api_id)["item"]] == [
        "prod"
    ]
    assert local.api_key


def catalog_routes() -> list[tuple[str, catalog.ApiRoute]]:
    return [
        (spec.name, t) for spec in catalog.FUNCTIONS for t in spec.triggers if isinstance(t, catalog.ApiRoute)
    ]


@pytest.mark.parametrize(("function_name", "route"), catalog_routes(), ids=lambda v: getattr(v, "path", v))
def test_every_catalog_route_is_served_with_its_auth_by_its_function(local, function_name, route):
    url = local.api_url + route.path.lstrip("/").replace("{", "").replace("}", "")
    credentials = (
        {"x-api-key": local.api_key}
        if route.auth == "api_key"
        else {"Authorization": f"Bearer {local.operator_key}"}
    )
    function = local.functions[function_name]
    # When the route is called without credentials, Then the gateway refuses it before any handler runs
    before = function.invocations
    anonymous = requests.request(route.method, url, json={}, timeout=30)
    assert anonymous.status_code == 403
    assert function.invocations == before
    # When called with the credentials its auth needs, Then the catalog's function handles it
    authorised = requests.request(route.method, url, json={}, headers=credentials, timeout=30)
    assert authorised.json() != {"message": "Missing Authentication Token"}
    assert function.invocations == before + 1


def test_every_queue_trigger_is_polled_with_the_templates_settings(local, template):
    parsed = StackTemplate(template)
    for spec in catalog.FUNCTIONS:
        for trigger in (t for t in spec.triggers if isinstance(t, catalog.QueueTrigger)):
            # Given the template's mapping for this function
            (mapping,) = [
                m
                for m in parsed.queue_mappings()
                if parsed.functions()[m.function_logical_id].name == spec.name
            ]
            # Then a poller feeds that queue to the function with the catalog's batching
            (poller,) = [p for p in local.pollers if p.function.name == spec.name]
            assert poller.source.arn == get_att(mapping.queue_logical_id, "Arn", local.stack)
            assert (mapping.batch_size, mapping.batching_window_s) == (
                trigger.batch_size,
                trigger.max_batching_window_s,
            )


def test_an_upload_is_admitted_through_the_queue(local):
    # Given a copy file uploaded where the catalog says uploads go
    admission = local.functions["admission"]
    before = admission.invocations
    local.client("s3").put_object(
        Bucket=local.outputs["UploadsBucketName"],
        Key=f"{catalog.UPLOAD_PREFIX}deploytest/copy/lines.txt",
        Body=b"Fresh every day\n",
    )
    # When the queues are drained, Then admission ran on it
    local.drain_queues(timeout=120)
    assert admission.invocations > before


def test_every_schedule_trigger_is_fired_on_demand(local):
    for spec in catalog.FUNCTIONS:
        for trigger in (t for t in spec.triggers if isinstance(t, catalog.ScheduleTrigger)):
            schedule = local.schedules[spec.name]
            assert schedule.expression == trigger.expression
            before = schedule.function.invocations
            local.fire_schedule(spec.name)
            assert schedule.function.invocations == before + 1
    # And nothing is scheduled that the catalog does not schedule
    scheduled = {
        s.name for s in catalog.FUNCTIONS if any(isinstance(t, catalog.ScheduleTrigger) for t in s.triggers)
    }
    assert set(local.schedules) == scheduled


def test_the_printed_select_example_reaches_the_select_handler(local):
    # Given the curl command `creative local up` prints
    command = shlex.split(select_curl(local.api_url, local.api_key))
    select = local.functions["select"]
    before = select.invocations
    # When a reader runs it
    output = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    # Then the select handler answered it (with no creatives yet, a JSON error of its own)
    assert select.invocations == before + 1
    assert "Missing Authentication Token" not in output and json.loads(output)


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_printed_upload_example_feeds_admission(local, tmp_path):
    # Given the aws s3 cp command `creative local up` prints, for a real JPEG
    Image.new("RGB", (640, 480), (200, 120, 40)).save(tmp_path / EXAMPLE_IMAGE)
    command = upload_command(local.endpoint_url, local.outputs["UploadsBucketName"])
    command = command.replace("<business_line>", "deploytest").replace("<category>", "cli")
    admission = local.functions["admission"]
    before = admission.invocations
    # When a reader runs it, and the queue drains
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    local.drain_queues(timeout=120)
    # Then admission decided on the image
    assert admission.invocations > before


def test_the_built_models_are_in_the_assets_bucket_under_models(local):
    from stack_build import model_staging

    files = model_staging.deployed_files()
    if files is None:
        pytest.skip("build/models/manifest.json is absent (run `make models`): nothing to deploy")
    # Given the local runtime started from the synthesized stack (which performs the BucketDeployment)
    bucket = local.outputs["AssetsBucketName"]
    s3 = local.client("s3")
    for file in files:
        # Then every manifest file is in the assets bucket under models/, with the sha256 it records
        head = s3.head_object(Bucket=bucket, Key=catalog.MODELS_PREFIX + file.key)
        assert head["ContentLength"] == file.bytes, file.key
        assert head["Metadata"]["sha256"] == file.sha256, file.key
