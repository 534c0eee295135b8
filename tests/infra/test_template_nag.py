"""cdk-nag (AwsSolutions) runs in every synthesis; what it accepts must be explained in writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_s3 as s3

from infra.app import UnacknowledgedFindings, build_app, synthesize_checked
from infra.catalog import STACK_NAME
from infra.synth import synthesize

from .conftest import Resources

# Every rule the stack acknowledges instead of fixing. A new one should be a deliberate change here.
ACKNOWLEDGED_RULES = {
    "AwsSolutions-L1",  # python3.13 pinned with the deps layer
    "AwsSolutions-IAM5",  # X-Ray's Resource "*" and declared bucket prefixes
    "AwsSolutions-IAM4",  # API Gateway's account-level CloudWatch role
    "AwsSolutions-APIG3",  # no WAF in the self-hosted default
    "AwsSolutions-APIG4",  # racing routes use API keys
    "AwsSolutions-COG4",  # no Cognito: IAM and API keys
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


def test_wildcard_acknowledgements_name_xray_or_a_declared_prefix(resources: Resources) -> None:
    for logical_id, rule in _acknowledgements(resources):
        if rule["id"].startswith("AwsSolutions-IAM5"):
            finding = rule["id"].removeprefix("AwsSolutions-IAM5[").removesuffix("]")
            assert finding == "Resource::*" or finding.endswith("/uploads/*"), (logical_id, finding)


def test_an_unacknowledged_finding_fails_synthesis(
    tmp_path: Path, template_json: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app, plus a bucket with none of the required protections
    def app_with_careless_bucket(outdir: str):
        app = build_app(outdir)
        s3.Bucket(app.node.find_child(STACK_NAME), "CarelessBucket")
        return app

    monkeypatch.setattr("infra.app.build_app", app_with_careless_bucket)
    # When it is synthesized the way infra.synth does it
    # Then synthesis fails, naming the rule the bucket breaks (TLS not enforced)
    with pytest.raises(UnacknowledgedFindings, match="AwsSolutions-S10"):
        synthesize_checked(str(tmp_path))
