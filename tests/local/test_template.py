"""The template says which functions exist and what triggers them; parsing it needs no AWS."""

import json

import pytest
from local_runtime.aliases import fold
from local_runtime.deployed_stack import DeployedStack
from local_runtime.template import StackTemplate, resolve_environment

from tests.local import tiny_stack


def parsed() -> StackTemplate:
    return StackTemplate(tiny_stack.template())


def test_functions_are_the_ones_carrying_catalog_metadata():
    # Given the tiny stack plus a CDK helper function without catalog metadata
    template = tiny_stack.template()
    template["Resources"]["CdkHelper"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Handler": "index.handler"},
    }
    # When its functions are read
    functions = StackTemplate(template).functions()
    # Then only the catalog's functions are served, with their handler, memory and timeout
    assert {f.name for f in functions.values()} == {"api", "consumer", "scheduled"}
    api = functions["ApiFunction"]
    assert (api.handler, api.memory_mb, api.timeout_s) == ("handler.lambda_handler", 256, 10)


def test_resource_tree_becomes_paths():
    # Given resources chained by ParentId up to the API's root
    # When their paths are rebuilt
    paths = parsed().resource_paths()
    # Then each path joins the PathParts from the root
    assert paths == {"ItemsResource": "/items", "ItemResource": "/items/{item_id}", "AdminResource": "/admin"}


def test_api_routes_carry_method_path_auth_and_target():
    # Given methods with API keys, IAM auth, a root method and a MOCK OPTIONS
    routes = {(r.method, r.resource_path): r for r in parsed().api_routes()}
    # Then each route is what the template wires
    assert set(routes) == {
        ("POST", "/items"),
        ("GET", "/items/{item_id}"),
        ("GET", "/admin"),
        ("GET", "/"),
        ("OPTIONS", "/items"),
    }
    assert routes[("POST", "/items")].api_key_required is True
    assert routes[("POST", "/items")].function_logical_id == "ApiFunction"
    assert routes[("GET", "/admin")].authorization_type == "AWS_IAM"
    assert routes[("GET", "/admin")].required_parameters == (("querystring", "page"),)
    assert routes[("GET", "/")].authorization_type == "NONE"
    assert routes[("OPTIONS", "/items")].integration_type == "MOCK"
    assert routes[("OPTIONS", "/items")].function_logical_id is None


def test_queue_mapping_and_schedule():
    # Given an event source mapping and a schedule rule
    template = parsed()
    # When read
    (mapping,) = template.queue_mappings()
    (rule,) = template.schedule_rules()
    # Then the poller and the schedule get the template's settings
    assert (mapping.function_logical_id, mapping.queue_logical_id) == ("ConsumerFunction", "UploadQueue")
    assert (mapping.batch_size, mapping.batching_window_s, mapping.reports_batch_item_failures) == (
        5,
        0,
        True,
    )
    assert (rule.function_logical_id, rule.expression, rule.enabled) == (
        "ScheduledFunction",
        "rate(5 minutes)",
        True,
    )


def test_rest_api_stage_comes_from_the_stage_resource():
    (api,) = parsed().rest_apis().values()
    assert (api.logical_id, api.stage_name) == ("Api", "prod")


def test_environment_resolves_to_physical_names():
    # Given the tiny stack's physical ids after a deployment
    template = tiny_stack.template()
    stack = DeployedStack(
        stack_name="TinyStack",
        stack_id="id",
        account_id="123456789012",
        region="us-east-1",
        template=template,
        physical_ids={
            "Table": "TinyStack-Table-1",
            "UploadsBucket": "tinystack-uploads-1",
            "UploadQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/TinyStack-UploadQueue-1",
        },
    )
    # When the api function's environment is resolved
    environment = resolve_environment(StackTemplate(template).functions()["ApiFunction"], stack)
    # Then every intrinsic became a string a handler can use
    assert environment == {
        "TABLE_NAME": "TinyStack-Table-1",
        "BUCKET_NAME": "tinystack-uploads-1",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:TinyStack-UploadQueue-1",
        "JOINED": "TinyStack-Table-1/us-east-1/x",
        "SUBBED": "tinystack-uploads-1:TinyStack-UploadQueue-1:123456789012",
        "POWERTOOLS_SERVICE_NAME": "tiny",
    }


def test_functions_know_their_layers_by_name_in_order():
    # Given a function carrying two layers named in their metadata, and one named by ARN only
    template = tiny_stack.template()
    for name in ("creative", "training"):
        template["Resources"][f"{name.title()}Layer"] = {
            "Type": "AWS::Lambda::LayerVersion",
            "Metadata": {"creative:layer": name},
            "Properties": {"Content": {"S3Bucket": "b", "S3Key": f"{name}.zip"}},
        }
    external = "arn:aws:lambda:eu-west-1:123456789012:layer:other:1"
    template["Resources"]["ApiFunction"]["Properties"]["Layers"] = [
        {"Ref": "CreativeLayer"},
        {"Ref": "TrainingLayer"},
        external,
    ]
    # When its functions are read
    functions = StackTemplate(template).functions()
    # Then the function knows its layers by name, in the order Lambda stacks them; the others have none
    assert functions["ApiFunction"].layers == ("creative", "training", external)
    assert functions["ConsumerFunction"].layers == ()


def _with_live_alias(template: dict) -> dict:
    """The tiny stack with ApiFunction published and POST /items invoking its `live` alias, as CDK writes a
    SnapStart function's route (infra.constructs.function)."""
    resources = template["Resources"]
    resources["ApiFunctionVersion"] = {
        "Type": "AWS::Lambda::Version",
        "Properties": {"FunctionName": {"Ref": "ApiFunction"}},
    }
    resources["ApiFunctionLive"] = {
        "Type": "AWS::Lambda::Alias",
        "Properties": {
            "FunctionName": {"Ref": "ApiFunction"},
            "FunctionVersion": {"Fn::GetAtt": ["ApiFunctionVersion", "Version"]},
            "Name": "live",
        },
    }
    resources["ApiInvokePermission"] = {
        "Type": "AWS::Lambda::Permission",
        "DependsOn": ["ApiFunctionLive"],
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "ApiFunctionLive"},
            "Principal": "apigateway.amazonaws.com",
        },
    }
    parts = resources["ItemsPost"]["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
    parts[parts.index({"Fn::GetAtt": ["ApiFunction", "Arn"]})] = {"Ref": "ApiFunctionLive"}
    return template


def test_a_route_through_an_alias_runs_the_aliased_function():
    routes = {
        (r.method, r.resource_path): r
        for r in StackTemplate(_with_live_alias(tiny_stack.template())).api_routes()
    }
    assert routes[("POST", "/items")].function_logical_id == "ApiFunction"


def test_moto_gets_each_alias_folded_into_its_function():
    template = _with_live_alias(tiny_stack.template())
    folded, aliases = fold(template)
    assert aliases == ["ApiFunctionLive"] and "ApiFunctionLive" not in folded["Resources"]
    permission = folded["Resources"]["ApiInvokePermission"]
    # The alias's Ref was its ARN: the function's ARN takes its place
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": ["ApiFunction", "Arn"]}
    assert permission["DependsOn"] == []
    assert '"ApiFunctionLive"' not in json.dumps(folded)  # no reference left
    # The template itself is left as it was: the runtime still reads the alias from it
    assert "ApiFunctionLive" in template["Resources"]
    # A reference fold cannot rewrite is refused, not left dangling
    for reference in ({"Fn::GetAtt": ["ApiFunctionLive", "AliasArn"]}, {"Fn::Sub": "${ApiFunctionLive}:x"}):
        template["Outputs"]["Live"] = {"Value": reference}
        with pytest.raises(ValueError, match="ApiFunctionLive"):
            fold(template)
