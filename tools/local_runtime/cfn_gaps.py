"""Resources and properties that moto's CloudFormation skips, applied through moto's service APIs.

moto 5.2 reports these CREATE_COMPLETE without creating anything (empty physical id), or creates the
resource but drops the property. Each filler reads what the template declares, resolved against the
deployed stack, and makes it exist, so the stack in moto is the stack the template describes.
Skipped on purpose: AWS::ApiGateway::Account (a CloudWatch logging role), Lambda `Layers` (the local
runtime puts the layer's source on sys.path itself), bucket lifecycle and access logging (moto would
store them and never act on them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from local_runtime.deployed_stack import DeployedStack
from local_runtime.intrinsics import UnresolvableIntrinsic, resolve
from local_runtime.moto_server import MotoEndpoint

log = logging.getLogger(__name__)

Filler = Callable[[str, dict[str, Any], DeployedStack, MotoEndpoint], str | None]


def fill(stack: DeployedStack, endpoint: MotoEndpoint) -> list[str]:
    """Apply every gap; returns what was filled, as "Type LogicalId" lines for the log."""
    filled = []
    for resource_type, filler, needed in _FILLERS:
        for logical_id in stack.logical_ids_of_type(resource_type):
            declared = stack.resources[logical_id].get("Properties", {})
            if not needed(declared, stack.physical_ids.get(logical_id, "")):
                continue
            physical = filler(logical_id, _resolved_properties(logical_id, declared, stack), stack, endpoint)
            if physical is not None:
                stack.physical_ids[logical_id] = physical
            filled.append(f"{resource_type} {logical_id}")
    return filled


def _resolved_properties(logical_id: str, declared: dict[str, Any], stack: DeployedStack) -> dict[str, Any]:
    """Each property resolved on its own, so one we cannot resolve (and do not use) does not stop the rest."""
    resolved = {}
    for name, value in declared.items():
        try:
            resolved[name] = resolve(value, stack)
        except (UnresolvableIntrinsic, KeyError) as error:
            log.debug("%s.%s left unresolved: %s", logical_id, name, error)
    return resolved


def _skipped_by_moto(declared: dict[str, Any], physical_id: str) -> bool:
    return not physical_id  # a newer moto may create it: then there is nothing to fill


_BUCKET_PROPERTIES_MOTO_DROPS = (
    "VersioningConfiguration",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "CorsConfiguration",
    "NotificationConfiguration",
)


def _declares_dropped_bucket_properties(declared: dict[str, Any], physical_id: str) -> bool:
    return any(name in declared for name in _BUCKET_PROPERTIES_MOTO_DROPS)


def _deployment(logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint) -> str:
    """moto creates the deployment but reports no id: find it by its API (and description)."""
    items = aws.client("apigateway").get_deployments(restApiId=props["RestApiId"])["items"]
    matching = [d for d in items if d.get("description", "") == props.get("Description", "")] or items
    newest = max(matching, key=lambda d: d["createdDate"])
    if "StageName" in props:
        _create_stage(aws, props["RestApiId"], props["StageName"], newest["id"], {})
    return newest["id"]


def _stage(logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint) -> str:
    _create_stage(aws, props["RestApiId"], props["StageName"], props["DeploymentId"], props)
    return props["StageName"]


def _create_stage(
    aws: MotoEndpoint, api_id: str, name: str, deployment_id: str, props: dict[str, Any]
) -> None:
    aws.client("apigateway").create_stage(
        restApiId=api_id,
        stageName=name,
        deploymentId=deployment_id,
        description=props.get("Description", ""),
        variables=props.get("Variables", {}),
        tracingEnabled=bool(props.get("TracingEnabled", False)),
    )


def _api_key(logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint) -> str:
    request: dict[str, Any] = {
        "name": props.get("Name", f"{stack.stack_name}-{logical_id}"),
        "enabled": bool(props.get("Enabled", True)),
        "description": props.get("Description", ""),
    }
    if "Value" in props:
        request["value"] = props["Value"]
    return aws.client("apigateway").create_api_key(**request)["id"]


def _usage_plan(logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint) -> str:
    request: dict[str, Any] = {
        "name": props.get("UsagePlanName", f"{stack.stack_name}-{logical_id}"),
        "description": props.get("Description", ""),
        "apiStages": [{"apiId": s["ApiId"], "stage": s["Stage"]} for s in props.get("ApiStages", [])],
    }
    if "Throttle" in props:
        request["throttle"] = {
            "burstLimit": int(props["Throttle"].get("BurstLimit", 0)),
            "rateLimit": float(props["Throttle"].get("RateLimit", 0)),
        }
    if "Quota" in props:
        request["quota"] = {k[0].lower() + k[1:]: v for k, v in props["Quota"].items()}
    return aws.client("apigateway").create_usage_plan(**request)["id"]


def _usage_plan_key(logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint) -> str:
    aws.client("apigateway").create_usage_plan_key(
        usagePlanId=props["UsagePlanId"], keyId=props["KeyId"], keyType=props.get("KeyType", "API_KEY")
    )
    return props["KeyId"]


def _queue_policy(logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint) -> None:
    for queue_url in props["Queues"]:
        aws.client("sqs").set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )


def _bucket_properties(
    logical_id: str, props: dict[str, Any], stack: DeployedStack, aws: MotoEndpoint
) -> None:
    """moto's CloudFormation keeps only a bucket's encryption and tags; apply the rest that S3 acts on."""
    bucket, s3 = stack.physical_id(logical_id), aws.client("s3")
    if "VersioningConfiguration" in props:  # version ids reach events and reads: set before any upload
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
        )
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    if "CorsConfiguration" in props:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_request(props["CorsConfiguration"]))
    if "NotificationConfiguration" in props:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=notification_request(props["NotificationConfiguration"])
        )
    return None


def cors_request(declared: dict[str, Any]) -> dict[str, Any]:
    renamed = {
        "AllowedHeaders": "AllowedHeaders",
        "AllowedMethods": "AllowedMethods",
        "AllowedOrigins": "AllowedOrigins",
        "ExposedHeaders": "ExposeHeaders",
        "MaxAge": "MaxAgeSeconds",
        "Id": "ID",
    }
    return {
        "CORSRules": [
            {renamed[k]: v for k, v in rule.items() if k in renamed} for rule in declared["CorsRules"]
        ]
    }


def notification_request(declared: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation NotificationConfiguration in the shape of S3's PutBucketNotificationConfiguration."""
    request: dict[str, Any] = {}
    if declared.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") in (True, "true"):
        request["EventBridgeConfiguration"] = {}
    for cfn_list, api_list, cfn_target, api_target in (
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ):
        if cfn_list in declared:
            request[api_list] = [_notification_target(c, cfn_target, api_target) for c in declared[cfn_list]]
    return request


def _notification_target(config: dict[str, Any], cfn_target: str, api_target: str) -> dict[str, Any]:
    target: dict[str, Any] = {api_target: config[cfn_target], "Events": [config["Event"]]}
    rules = config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
    if rules:
        target["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
    return target


# Order matters: a stage needs its deployment, a usage plan its stage, a plan key its plan and key.
_FILLERS: tuple[tuple[str, Filler, Callable[[dict[str, Any], str], bool]], ...] = (
    ("AWS::ApiGateway::Deployment", _deployment, _skipped_by_moto),
    ("AWS::ApiGateway::Stage", _stage, _skipped_by_moto),
    ("AWS::ApiGateway::ApiKey", _api_key, _skipped_by_moto),
    ("AWS::ApiGateway::UsagePlan", _usage_plan, _skipped_by_moto),
    ("AWS::ApiGateway::UsagePlanKey", _usage_plan_key, _skipped_by_moto),
    ("AWS::SQS::QueuePolicy", _queue_policy, _skipped_by_moto),
    # moto creates buckets but drops most of their configuration.
    ("AWS::S3::Bucket", _bucket_properties, _declares_dropped_bucket_properties),
)
