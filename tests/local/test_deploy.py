"""Deploying a cloud assembly into moto the way `cdk deploy` would, then filling moto's gaps."""

from __future__ import annotations

import json

import pytest
from local_runtime.deploy import DeployFailed, deploy

from tests.local import tiny_stack


@pytest.fixture
def deployed(aws, tiny_assembly):
    return deploy(aws, tiny_assembly, tiny_stack.STACK_NAME)


def test_the_stack_is_created_from_the_template(aws, deployed):
    # Given the tiny assembly deployed
    # Then CloudFormation reports it complete, with a physical id for every resource moto creates
    (status,) = aws.client("cloudformation").describe_stacks(StackName=tiny_stack.STACK_NAME)["Stacks"]
    assert status["StackStatus"] == "CREATE_COMPLETE"
    assert deployed.physical_id("Table").startswith("TinyStack-Table-")
    # And the function code came from the published assets
    code = aws.client("lambda").get_function(FunctionName=deployed.physical_id("ApiFunction"))["Code"]
    assert code["Location"]


def test_what_moto_skips_is_filled_in(aws, deployed):
    # Given the deployed tiny stack
    apigateway, s3 = aws.client("apigateway"), aws.client("s3")
    api_id = deployed.physical_id("Api")
    # Then the stage, the API key and the usage plan granting it exist, as the template declares
    assert [s["stageName"] for s in apigateway.get_stages(restApiId=api_id)["item"]] == ["prod"]
    (plan,) = apigateway.get_usage_plans()["items"]
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "prod"}]
    assert plan["throttle"] == {"burstLimit": 10, "rateLimit": 5.0}
    (key,) = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert key["id"] == deployed.physical_id("ApiKey")
    # And the uploads bucket is versioned and sends its events to EventBridge
    bucket = deployed.physical_id("UploadsBucket")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_object(Bucket=bucket, Key="uploads/a/b.jpg", Body=b"x")
    messages = aws.client("sqs").receive_message(QueueUrl=deployed.physical_id("UploadQueue"))["Messages"]
    assert json.loads(messages[0]["Body"])["detail"]["object"]["key"] == "uploads/a/b.jpg"


def test_outputs_resolve_with_the_filled_in_resources(deployed):
    # Given an output referring to the stage moto skipped
    # Then it names the real stage (moto alone says ".../None/")
    api_id = deployed.physical_id("Api")
    assert deployed.outputs["ApiUrl"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod/"
    assert deployed.outputs["ApiKeyId"] == deployed.physical_id("ApiKey")


def test_a_failing_rule_stops_the_deployment(aws, tmp_path):
    # Given a template whose bootstrap-version rule cannot hold
    template = tiny_stack.template()
    template["Rules"]["CheckBootstrapVersion"]["Assertions"][0]["Assert"] = {
        "Fn::Not": [{"Fn::Contains": [["30"], {"Ref": "BootstrapVersion"}]}]
    }
    assembly = tiny_stack.write_assembly(tmp_path / "cdk.out", template_override=template)
    # When deployed, Then it is refused before any stack exists, as CloudFormation would
    with pytest.raises(DeployFailed, match="CheckBootstrapVersion"):
        deploy(aws, assembly, tiny_stack.STACK_NAME)
    assert aws.client("cloudformation").list_stacks()["StackSummaries"] == []
