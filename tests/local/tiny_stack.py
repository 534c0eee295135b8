"""A hand-written cloud assembly shaped like the real stack, small enough to read in one sitting.

An uploads bucket (EventBridge notifications, versioning) whose uploads/ objects reach a queue through an
EventBridge rule; the queue (redrive to a DLQ after 2 receives, 1 s visibility) feeds `consumer`; a
schedule rule fires `scheduled`; a REST API with an API-key route, an IAM route, a public root, a MOCK
OPTIONS and a validator requiring a query parameter serves `api`. Like CDK's output, the template is
written to `<dir>/TinyStack.template.json` with a manifest and a file-asset manifest beside it.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

STACK_NAME = "TinyStack"
FIXTURES = Path(__file__).resolve().parent
FUNCTIONS_DIR = FIXTURES / "fixture_functions"
LAYER_DIR = FIXTURES / "fixture_layer" / "python"
ASSETS_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
FUNCTION_NAMES = ("api", "consumer", "scheduled")


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def _arn_of(name: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, "Arn"]}


def _function(name: str, timeout: int = 10) -> dict[str, dict[str, Any]]:
    role = f"{name.title()}Role"
    return {
        role: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        f"{name.title()}Function": {
            "Type": "AWS::Lambda::Function",
            "Metadata": {"creative:function": name},
            "DependsOn": [role],
            "Properties": {
                "Code": {"S3Bucket": {"Fn::Sub": ASSETS_BUCKET}, "S3Key": f"{name}-asset.zip"},
                "Handler": "handler.lambda_handler",
                "Runtime": "python3.13",
                "MemorySize": 256,
                "Timeout": timeout,
                "Role": _arn_of(role),
                "Environment": {
                    "Variables": {
                        "TABLE_NAME": _ref("Table"),
                        "BUCKET_NAME": _ref("UploadsBucket"),
                        "QUEUE_ARN": _arn_of("UploadQueue"),
                        "JOINED": {"Fn::Join": ["/", [_ref("Table"), {"Ref": "AWS::Region"}, "x"]]},
                        "SUBBED": {"Fn::Sub": "${UploadsBucket}:${UploadQueue.QueueName}:${AWS::AccountId}"},
                        "POWERTOOLS_SERVICE_NAME": "tiny",
                    }
                },
            },
        },
    }


def _api() -> dict[str, dict[str, Any]]:
    def method(logical: str, http: str, resource: Any, **props: Any) -> dict[str, Any]:
        integration = props.pop(
            "Integration",
            {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":apigateway:",
                            {"Ref": "AWS::Region"},
                            ":lambda:path/2015-03-31/functions/",
                            _arn_of("ApiFunction"),
                            "/invocations",
                        ],
                    ]
                },
            },
        )
        return {
            logical: {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": _ref("Api"),
                    "ResourceId": resource,
                    "HttpMethod": http,
                    "AuthorizationType": props.pop("AuthorizationType", "NONE"),
                    "Integration": integration,
                    **props,
                },
            }
        }

    root = {"Fn::GetAtt": ["Api", "RootResourceId"]}
    resources: dict[str, dict[str, Any]] = {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "tiny-api"}},
        "ItemsResource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"RestApiId": _ref("Api"), "ParentId": root, "PathPart": "items"},
        },
        "ItemResource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": _ref("Api"),
                "ParentId": _ref("ItemsResource"),
                "PathPart": "{item_id}",
            },
        },
        "AdminResource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"RestApiId": _ref("Api"), "ParentId": root, "PathPart": "admin"},
        },
        "Validator": {
            "Type": "AWS::ApiGateway::RequestValidator",
            "Properties": {"RestApiId": _ref("Api"), "ValidateRequestParameters": True},
        },
        **method("ItemsPost", "POST", _ref("ItemsResource"), ApiKeyRequired=True),
        **method("ItemGet", "GET", _ref("ItemResource"), ApiKeyRequired=True),
        **method(
            "AdminGet",
            "GET",
            _ref("AdminResource"),
            AuthorizationType="AWS_IAM",
            RequestValidatorId=_ref("Validator"),
            RequestParameters={
                "method.request.querystring.page": True,
                "method.request.querystring.opt": False,
            },
        ),
        **method("RootGet", "GET", root),
        **method(
            "ItemsOptions",
            "OPTIONS",
            _ref("ItemsResource"),
            Integration={
                "Type": "MOCK",
                "RequestTemplates": {"application/json": '{"statusCode": 204}'},
                "IntegrationResponses": [
                    {
                        "StatusCode": "204",
                        "ResponseParameters": {
                            "method.response.header.Access-Control-Allow-Origin": "'*'",
                            "method.response.header.Access-Control-Allow-Methods": "'POST,OPTIONS'",
                        },
                    }
                ],
            },
        ),
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": ["ItemsPost", "ItemGet", "AdminGet", "RootGet", "ItemsOptions"],
            "Properties": {"RestApiId": _ref("Api"), "Description": "tiny deployment"},
        },
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {"RestApiId": _ref("Api"), "DeploymentId": _ref("Deployment"), "StageName": "prod"},
        },
        "ApiKey": {
            "Type": "AWS::ApiGateway::ApiKey",
            "Properties": {"Enabled": True, "Description": "tiny key"},
        },
        "UsagePlan": {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "ApiStages": [{"ApiId": _ref("Api"), "Stage": _ref("Stage")}],
                "Throttle": {"BurstLimit": 10, "RateLimit": 5},
            },
        },
        "UsagePlanKey": {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {"KeyId": _ref("ApiKey"), "KeyType": "API_KEY", "UsagePlanId": _ref("UsagePlan")},
        },
    }
    return resources


def template() -> dict[str, Any]:
    resources: dict[str, Any] = {
        "UploadsBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
                "VersioningConfiguration": {"Status": "Enabled"},
            },
        },
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "UploadQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 1,
                "RedrivePolicy": {"deadLetterTargetArn": _arn_of("DeadLetterQueue"), "maxReceiveCount": 2},
            },
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "body", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "by_body",
                        "KeySchema": [{"AttributeName": "body", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            },
        },
        **_function("api"),
        **_function("consumer"),
        **_function("scheduled"),
        # Listed before the upload rule on purpose: moto once let a schedule rule swallow S3 events.
        "ScheduleRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(5 minutes)",
                "State": "ENABLED",
                "Targets": [{"Arn": _arn_of("ScheduledFunction"), "Id": "Target0"}],
            },
        },
        "UploadRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [_ref("UploadsBucket")]},
                        "object": {"key": [{"prefix": "uploads/"}]},
                    },
                },
                "State": "ENABLED",
                "Targets": [{"Arn": _arn_of("UploadQueue"), "Id": "Target0"}],
            },
        },
        "ConsumerMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": _ref("ConsumerFunction"),
                "EventSourceArn": _arn_of("UploadQueue"),
                "BatchSize": 5,
                "MaximumBatchingWindowInSeconds": 0,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
        **_api(),
    }
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [
                                {"Fn::Contains": [["1", "2", "3", "4", "5"], _ref("BootstrapVersion")]}
                            ]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
        "Resources": resources,
        "Outputs": {
            "ApiUrl": {
                "Value": {
                    "Fn::Join": [
                        "",
                        [
                            "https://",
                            _ref("Api"),
                            ".execute-api.",
                            {"Ref": "AWS::Region"},
                            ".",
                            {"Ref": "AWS::URLSuffix"},
                            "/",
                            _ref("Stage"),
                            "/",
                        ],
                    ]
                }
            },
            "UploadsBucketName": {"Value": _ref("UploadsBucket")},
            "UploadQueueUrl": {"Value": _ref("UploadQueue")},
            "ApiKeyId": {"Value": _ref("ApiKey")},
        },
    }


def write_assembly(directory: Path, template_override: dict[str, Any] | None = None) -> Path:
    """Write the tiny stack as a cloud assembly in `directory` (what `cdk synth` leaves in cdk.out)."""
    directory.mkdir(parents=True, exist_ok=True)
    body = copy.deepcopy(template_override) if template_override is not None else template()
    (directory / f"{STACK_NAME}.template.json").write_text(json.dumps(body, indent=1))
    files = {}
    for name in FUNCTION_NAMES:
        staged = directory / f"asset.{name}"
        shutil.copytree(
            FUNCTIONS_DIR / name, staged, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
        files[name] = {
            "source": {"path": staged.name, "packaging": "zip"},
            "destinations": {"current": {"bucketName": ASSETS_BUCKET, "objectKey": f"{name}-asset.zip"}},
        }
    (directory / f"{STACK_NAME}.assets.json").write_text(json.dumps({"version": "55.0.0", "files": files}))
    manifest = {
        "version": "55.0.0",
        "artifacts": {
            f"{STACK_NAME}.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": f"{STACK_NAME}.assets.json", "requiresBootstrapStackVersion": 6},
            },
            STACK_NAME: {
                "type": "aws:cloudformation:stack",
                "properties": {
                    "templateFile": f"{STACK_NAME}.template.json",
                    "requiresBootstrapStackVersion": 6,
                    "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version",
                },
                "dependencies": [f"{STACK_NAME}.assets"],
            },
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def code_dir_for(function_name: str) -> Path:
    return FUNCTIONS_DIR / function_name
