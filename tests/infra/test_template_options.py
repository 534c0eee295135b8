"""Deploy-time options (`-c` context): the template they produce, synthesized with cdk-nag like any deploy."""

import json

import pytest

from infra.app import build_app
from infra.catalog import STACK_NAME
from tests.infra.conftest import of_type


@pytest.fixture(scope="module")
def optioned(tmp_path_factory) -> dict:
    outdir = tmp_path_factory.mktemp("cdk-options")
    context = {
        "creative:waf": "true",
        "creative:racingClients": "web,app-ios",
        "creative:reservedConcurrency": "false",
        "creative:snapStart": "false",
    }
    build_app(str(outdir), context).synth()  # raises on any unacknowledged cdk-nag finding
    return json.loads((outdir / f"{STACK_NAME}.template.json").read_text())


def test_waf_guards_the_stage_with_a_rate_limit_and_managed_rules(optioned: dict) -> None:
    resources = optioned["Resources"]
    ((acl_id, acl),) = of_type(resources, "AWS::WAFv2::WebACL").items()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert rules["RatePerAddress"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert "Block" in rules["RatePerAddress"]["Action"]
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    (association,) = of_type(resources, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert "apis" in json.dumps(association["Properties"]["ResourceArn"])  # the stage's ARN


def test_each_racing_client_gets_its_own_key_on_the_usage_plan(optioned: dict) -> None:
    resources = optioned["Resources"]
    keys = of_type(resources, "AWS::ApiGateway::ApiKey")
    plan_keys = of_type(resources, "AWS::ApiGateway::UsagePlanKey")
    assert len(keys) == 3 and len(plan_keys) == 3  # the default key, web and app-ios
    assert {"ApiKeyIdWeb", "ApiKeyIdAppIos"} <= set(optioned["Outputs"])


def test_reserved_concurrency_can_be_left_out(optioned: dict) -> None:
    functions = of_type(optioned["Resources"], "AWS::Lambda::Function").values()
    assert not [f for f in functions if "ReservedConcurrentExecutions" in f["Properties"]]


def test_snap_start_can_be_left_out_and_the_api_then_invokes_each_function_directly(optioned: dict) -> None:
    resources = optioned["Resources"]
    functions = of_type(resources, "AWS::Lambda::Function").values()
    assert not [f for f in functions if "SnapStart" in f["Properties"]]
    assert of_type(resources, "AWS::Lambda::Alias") == {} and of_type(resources, "AWS::Lambda::Version") == {}
    proxied = [
        m["Properties"]["Integration"]["Uri"]
        for m in of_type(resources, "AWS::ApiGateway::Method").values()
        if m["Properties"].get("Integration", {}).get("Type") == "AWS_PROXY"
    ]
    named = [part for uri in proxied for part in uri["Fn::Join"][1] if isinstance(part, dict)]
    invoked = {p.get("Ref") or p["Fn::GetAtt"][0] for p in named} - {"AWS::Partition", "AWS::Region"}
    assert proxied and {resources[logical_id]["Type"] for logical_id in invoked} == {"AWS::Lambda::Function"}
