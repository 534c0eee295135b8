"""What `cdk deploy` does, against moto: bootstrap, publish assets, create the stack, wait for it.

Then fill what moto's CloudFormation skips (cfn_gaps), do the CDK BucketDeployments moto cannot run
(bucket_deployments), and resolve the outputs from the template, because moto resolves a Ref to a
resource it skipped as "None" (an API URL ending in "/None/", for one).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from local_runtime import aliases, asset_publishing, bucket_deployments, cfn_gaps, stand_ins
from local_runtime.cloud_assembly import StackArtifact, read_stack_artifact
from local_runtime.deployed_stack import DeployedStack
from local_runtime.intrinsics import UnresolvableIntrinsic, condition_holds, evaluate_condition, resolve
from local_runtime.moto_server import MotoEndpoint

log = logging.getLogger(__name__)

# What `cdk bootstrap` would have written; any version at or above the one the assembly requires works.
BOOTSTRAP_VERSION = 30
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployFailed(RuntimeError):
    pass


def deploy(
    endpoint: MotoEndpoint, assembly_dir: Path, stack_name: str, timeout_s: float = 120
) -> DeployedStack:
    artifact = read_stack_artifact(assembly_dir, stack_name)
    template = artifact.template()
    account_id = endpoint.account_id()
    placeholders = {"AWS::AccountId": account_id, "AWS::Region": endpoint.region, "AWS::Partition": "aws"}

    _bootstrap(endpoint, artifact, placeholders)
    for_moto, deployments = bucket_deployments.split_off(template)
    for_moto, stood_in = stand_ins.split_off(for_moto)
    if stood_in:
        log.info("stood in for (not deployed into moto): %s", ", ".join(stood_in))
    for_moto, folded = aliases.fold(for_moto)
    if folded:
        log.info("aliases folded into their functions: %s", ", ".join(folded))
    # A BucketDeployment's source zip only feeds its custom resource, which is performed from the asset
    # directory below: zipping and uploading hundreds of MB of model weights for nothing is skipped.
    performed_here = {key for deployment in deployments for key in deployment.source_object_keys}
    published = tuple(asset for asset in artifact.assets if asset.object_key not in performed_here)
    asset_publishing.publish(published, endpoint.client("s3"), placeholders)

    stack = DeployedStack(
        stack_name=stack_name,
        stack_id="",
        account_id=account_id,
        region=endpoint.region,
        template=template,
        physical_ids={},
        parameters=_parameter_values(template, endpoint),
    )
    _check_rules(stack)

    cfn = endpoint.client("cloudformation")
    stack.stack_id = cfn.create_stack(
        StackName=stack_name, TemplateBody=json.dumps(for_moto), Capabilities=CAPABILITIES
    )["StackId"]
    _wait_for_create_complete(cfn, stack_name, timeout_s)
    stack.physical_ids = _physical_ids(cfn, stack_name)

    for line in cfn_gaps.fill(stack, endpoint):
        log.info("filled moto gap: %s", line)
    for deployment in deployments:
        result = bucket_deployments.perform(deployment, stack, artifact.assets, endpoint.client("s3"))
        log.info(
            "%s: %d files uploaded to s3://%s/%s, %d already there",
            deployment.logical_id,
            len(result.uploaded),
            result.bucket,
            result.prefix,
            len(result.unchanged),
        )
    stack.outputs = _outputs(stack, _moto_outputs(cfn, stack_name))
    return stack


def _bootstrap(endpoint: MotoEndpoint, artifact: StackArtifact, placeholders: dict[str, str]) -> None:
    s3 = endpoint.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in {asset_publishing.fill_placeholders(a.bucket_name, placeholders) for a in artifact.assets}:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    if artifact.bootstrap_version_parameter:
        endpoint.client("ssm").put_parameter(
            Name=artifact.bootstrap_version_parameter,
            Value=str(max(BOOTSTRAP_VERSION, artifact.required_bootstrap_version)),
            Type="String",
            Overwrite=True,
        )


def _parameter_values(template: dict[str, Any], endpoint: MotoEndpoint) -> dict[str, str]:
    """Each parameter's default; SSM-typed parameters hold a parameter name whose value CloudFormation reads."""
    values = {}
    for name, declared in template.get("Parameters", {}).items():
        if "Default" not in declared:
            continue
        if declared.get("Type", "").startswith("AWS::SSM::Parameter::Value"):
            values[name] = endpoint.client("ssm").get_parameter(Name=declared["Default"])["Parameter"][
                "Value"
            ]
        else:
            values[name] = str(declared["Default"])
    return values


def _check_rules(stack: DeployedStack) -> None:
    """CloudFormation refuses a stack whose Rules fail (CDK's CheckBootstrapVersion); moto skips them."""
    for name, rule in stack.template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate_condition(rule["RuleCondition"], stack):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate_condition(assertion["Assert"], stack):
                raise DeployFailed(f"rule {name} failed: {assertion.get('AssertDescription', '')}")


def _wait_for_create_complete(cfn: Any, stack_name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not status["StackStatus"].endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployFailed(f"{stack_name} still {status['StackStatus']} after {timeout_s}s")
        time.sleep(0.2)
    if status["StackStatus"] != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in events
            if "FAILED" in e["ResourceStatus"]
        ]
        raise DeployFailed(
            f"{stack_name} ended {status['StackStatus']}: {status.get('StackStatusReason')} {reasons}"
        )


def _physical_ids(cfn: Any, stack_name: str) -> dict[str, str]:
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return {
        summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
        for page in pages
        for summary in page["StackResourceSummaries"]
    }


def _moto_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _outputs(stack: DeployedStack, moto_outputs: dict[str, str]) -> dict[str, str]:
    """The template's outputs resolved with the filled-in physical ids; moto's value where we cannot."""
    outputs = {}
    for name, declared in stack.template.get("Outputs", {}).items():
        if "Condition" in declared and not condition_holds(declared["Condition"], stack):
            continue
        try:
            outputs[name] = str(resolve(declared["Value"], stack))
        except (UnresolvableIntrinsic, KeyError):
            if name in moto_outputs:
                outputs[name] = moto_outputs[name]
    return outputs
