"""Intrinsic functions resolve to the physical names CloudFormation gave the resources."""

import pytest
from local_runtime.deployed_stack import DeployedStack
from local_runtime.intrinsics import UnresolvableIntrinsic, evaluate_condition, get_att, resolve


@pytest.fixture
def stack() -> DeployedStack:
    return DeployedStack(
        stack_name="Demo",
        stack_id="arn:aws:cloudformation:us-east-1:123456789012:stack/Demo/1",
        account_id="123456789012",
        region="us-east-1",
        template={
            "Parameters": {"Env": {"Type": "String", "Default": "local"}},
            "Conditions": {"IsLocal": {"Fn::Equals": [{"Ref": "Env"}, "local"]}},
            "Resources": {
                "Table": {"Type": "AWS::DynamoDB::Table"},
                "Queue": {"Type": "AWS::SQS::Queue"},
                "Fn": {"Type": "AWS::Lambda::Function"},
                "Bucket": {"Type": "AWS::S3::Bucket"},
                "Skipped": {"Type": "AWS::ApiGateway::Stage"},
            },
        },
        physical_ids={
            "Table": "Demo-Table-ABC",
            "Queue": "https://sqs.us-east-1.amazonaws.com/123456789012/Demo-Queue-XYZ",
            "Fn": "Demo-Fn-123",
            "Bucket": "demo-bucket-1",
            "Skipped": "",
        },
        parameters={"Env": "local"},
    )


def test_ref_gives_physical_ids_parameters_and_pseudo_parameters(stack):
    # Given refs to a resource, a parameter and pseudo parameters
    value = [{"Ref": "Table"}, {"Ref": "Env"}, {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}]
    # When resolved, Then each is what CloudFormation would substitute
    assert resolve(value, stack) == ["Demo-Table-ABC", "local", "us-east-1", "123456789012"]


def test_get_att_builds_arns_from_physical_ids(stack):
    # Given the attributes a CDK template reads most
    # When resolved, Then they are the ARNs and names AWS would report
    assert get_att("Fn", "Arn", stack) == "arn:aws:lambda:us-east-1:123456789012:function:Demo-Fn-123"
    assert get_att("Queue", "Arn", stack) == "arn:aws:sqs:us-east-1:123456789012:Demo-Queue-XYZ"
    assert get_att("Queue", "QueueName", stack) == "Demo-Queue-XYZ"
    assert get_att("Table", "Arn", stack) == "arn:aws:dynamodb:us-east-1:123456789012:table/Demo-Table-ABC"
    assert resolve({"Fn::GetAtt": "Bucket.Arn"}, stack) == "arn:aws:s3:::demo-bucket-1"


def test_join_sub_select_split_and_if(stack):
    # Given nested intrinsics as CDK writes them
    joined = {"Fn::Join": ["-", [{"Ref": "Table"}, {"Fn::GetAtt": ["Queue", "QueueName"]}]]}
    subbed = {"Fn::Sub": "${Bucket}/${Queue.QueueName}/${AWS::Region}/${!Literal}"}
    with_variables = {"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Table"}}]}
    selected = {"Fn::Select": [1, {"Fn::Split": ["-", {"Ref": "Table"}]}]}
    chosen = {"Fn::If": ["IsLocal", "yes", "no"]}
    # When resolved, Then each evaluates as CloudFormation does
    assert resolve(joined, stack) == "Demo-Table-ABC-Demo-Queue-XYZ"
    assert resolve(subbed, stack) == "demo-bucket-1/Demo-Queue-XYZ/us-east-1/${Literal}"
    assert resolve(with_variables, stack) == "Demo-Table-ABC-x"
    assert resolve(selected, stack) == "Table"
    assert resolve(chosen, stack) == "yes"


def test_no_value_drops_the_property(stack):
    # Given a property that is AWS::NoValue
    value = {"Keep": "x", "Drop": {"Ref": "AWS::NoValue"}}
    # When resolved, Then the property is gone
    assert resolve(value, stack) == {"Keep": "x"}


def test_rule_functions_evaluate(stack):
    # Given CDK's bootstrap-version assertion shape
    assertion = {"Fn::Not": [{"Fn::Contains": [["1", "2"], {"Ref": "Env"}]}]}
    # When evaluated, Then it holds for a value outside the list
    assert evaluate_condition(assertion, stack) is True


def test_a_resource_without_physical_id_cannot_be_resolved_silently(stack):
    # Given a resource moto skipped (empty physical id)
    # When something refers to it, Then resolution fails loudly instead of yielding ""
    with pytest.raises(KeyError):
        resolve({"Ref": "Skipped"}, stack)


def test_unknown_attributes_are_reported(stack):
    with pytest.raises(UnresolvableIntrinsic):
        get_att("Table", "StreamArn", stack)
