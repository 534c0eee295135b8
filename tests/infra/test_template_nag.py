"""cdk-nag (AwsSolutions) runs in every synthesis; what it accepts must be explained in writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_s3 as s3
from stack_build.synth import synthesize

from infra.app import UnacknowledgedFindings, build_app, synthesize_checked
from infra.catalog import FUNCTIONS, STACK_NAME

from .conftest import Resources

# Every rule the stack acknowledges instead of fixing. A new one should be a deliberate change here.
ACKNOWLEDGED_RULES = {
    "AwsSolutions-L1",  # python3.13 pinned with the deps layer; CDK's BucketDeployment handler
    "AwsSolutions-IAM5",  # X-Ray's Resource "*" and declared bucket prefixes
    "AwsSolutions-IAM4",  # API Gateway's account-level CloudWatch role; CDK's BucketDeployment handler
    "AwsSolutions-APIG3",  # no WAF in the self-hosted default
    "AwsSolutions-APIG4",  # racing routes use API keys
    "AwsSolutions-COG4",  # racing routes: API keys, not a user pool
    "AwsSolutions-COG2",  # console user pool: MFA optional (TOTP), invited operators only
    "AwsSolutions-COG3",  # console user pool: no paid threat protection
    "AwsSolutions-COG8",  # console user pool: Essentials feature plan
    "AwsSolutions-CFR1",  # console distribution: no geo restriction
    "AwsSolutions-CFR2",  # console distribution: no WAF by default
    "AwsSolutions-CFR3",  # console distribution: no standard logs (API access logs record the calls)
    "AwsSolutions-CFR4",  # console distribution: default certificate, no TLS policy choice
    "AwsSolutions-CFR7",  # console distribution: OAC, which cdk-nag does not recognise
}


def _acknowledgements(resources: Resources) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, rule)
        for logical_id, resource in resources.items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def test_synthesis_left_no_violation_in_the_validation_report(template_json: dict) -> None:
    # Given the validation report of the synthesis that produced the template
    report = json.loads((synthesize().parent / "validation-report.json").read_text())
    # Then no plugin (cdk-nag, CloudFormation default rules) reported anything
    assert all(plugin.get("summary", {}).get("status") == "success" for plugin in report["pluginReports"])


def test_every_acknowledgement_carries_a_written_reason(resources: Resources) -> None:
    acknowledgements = _acknowledgements(resources)
    assert acknowledgements
    for logical_id, rule in acknowledgements:
        assert len(rule["reason"].split()) >= 8, (logical_id, rule)


def test_only_the_expected_rules_are_acknowledged(resources: Resources) -> None:
    rules = {rule["id"].split("[")[0] for _, rule in _acknowledgements(resources)}
    assert rules <= ACKNOWLEDGED_RULES


def _bucket_deployment_handler_parts(resources: Resources) -> set[str]:
    """Logical ids of CDK's BucketDeployment handler and its role and policy (one construct subtree)."""
    handlers = {
        custom["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        for custom in resources.values()
        if custom["Type"] == "Custom::CDKBucketDeployment"
    }
    prefixes = {
        handler[: handler.index("CDKBucketDeployment") + len("CDKBucketDeployment")] for handler in handlers
    }
    return {logical_id for logical_id in resources if logical_id.startswith(tuple(prefixes))}


def test_wildcard_acknowledgements_name_xray_or_a_declared_prefix(resources: Resources) -> None:
    declared_prefixes = tuple(
        f"/{access.prefix}*" for spec in FUNCTIONS for access in spec.access if access.prefix
    )
    model_deployment = _bucket_deployment_handler_parts(resources)
    for logical_id, rule in _acknowledgements(resources):
        if not rule["id"].startswith("AwsSolutions-IAM5"):
            continue
        finding = rule["id"].removeprefix("AwsSolutions-IAM5[").removesuffix("]")
        if logical_id in model_deployment:
            # CDK's BucketDeployment handler: its generated grants, acknowledged one by one
            continue
        # Every function role: X-Ray's "*" or object access under the prefix its catalog entry declares
        assert finding == "Resource::*" or finding.endswith(declared_prefixes), (logical_id, finding)


def test_model_deployment_acknowledgements_stay_on_cdks_handler(resources: Resources) -> None:
    # Given the acknowledgements of rules only the models' BucketDeployment needs
    model_deployment = _bucket_deployment_handler_parts(resources)
    for logical_id, rule in _acknowledgements(resources):
        finding = rule["id"]
        # Then the managed basic-execution policy and wildcard actions are acknowledged only there
        if "AWSLambdaBasicExecutionRole" in finding or finding.startswith("AwsSolutions-IAM5[Action::"):
            assert logical_id in model_deployment, (logical_id, finding)


def test_an_unacknowledged_finding_fails_synthesis(
    tmp_path: Path, template_json: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app, plus a bucket with none of the required protections
    def app_with_careless_bucket(outdir: str):
        app = build_app(outdir)
        s3.Bucket(app.node.find_child(STACK_NAME), "CarelessBucket")
        return app

    monkeypatch.setattr("infra.app.build_app", app_with_careless_bucket)
    # When it is synthesized the way stack_build.synth does it
    # Then synthesis fails, naming the rule the bucket breaks (TLS not enforced)
    with pytest.raises(UnacknowledgedFindings, match="AwsSolutions-S10"):
        synthesize_checked(str(tmp_path))
