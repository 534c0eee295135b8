"""The CDK app. `cdk synth` runs `python3 -m infra.app` (cdk.json); tests and the local runtime go
through stack_build.synth, which calls build_app()."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from aws_cdk import App, Validations, cx_api
from cdk_nag import AwsSolutionsChecks
from stack_build import dependency_layers, sizes

from infra.catalog import STACK_NAME
from infra.paths import REPO_ROOT
from infra.stack import CreativeEngineStack

CDK_JSON = REPO_ROOT / "cdk.json"


class UnacknowledgedFindings(RuntimeError):
    """cdk-nag, CloudFormation's default rules or CDK itself reported a problem nobody acknowledged."""


def build_app(outdir: str, extra_context: dict[str, object] | None = None) -> App:
    # cdk.json's context (feature flags) applies whether the CDK CLI or a test builds the app; a test adds
    # what a deploy would pass with -c.
    context = json.loads(CDK_JSON.read_text())["context"] | (extra_context or {})
    app = App(outdir=outdir, context=context)
    CreativeEngineStack(app, STACK_NAME)
    # cdk-nag v3 is a policy validation plugin: any finding without an acknowledgement fails synth().
    # Acknowledgements are also written into each resource's Metadata (cdk_nag) for audits and tests.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return app


def unacknowledged_annotations(assembly: cx_api.CloudAssembly) -> list[str]:
    """Error and warning annotations left in the assembly (what `cdk synth --strict` refuses)."""
    return [
        f"{message.id}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level in (cx_api.SynthesisMessageLevel.ERROR, cx_api.SynthesisMessageLevel.WARNING)
    ]


def synthesize_checked(outdir: str) -> cx_api.CloudAssembly:
    """Synthesize into `outdir`; raise UnacknowledgedFindings or DeployedSizeExceeded unless every check
    passed (cdk-nag and CDK's annotations, then each function's code + layers under Lambda's limit)."""
    try:
        assembly = build_app(outdir).synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        raise UnacknowledgedFindings(str(error)) from error
    annotations = unacknowledged_annotations(assembly)
    if annotations:
        raise UnacknowledgedFindings("\n".join(annotations))
    sizes.check(sizes.function_sizes(Path(outdir), STACK_NAME))
    return assembly


def main() -> int:
    dependency_layers.build_all()
    try:
        synthesize_checked(os.environ.get("CDK_OUTDIR", str(REPO_ROOT / "cdk.out")))
    except UnacknowledgedFindings as findings:
        print(f"unacknowledged findings:\n{findings}", file=sys.stderr)
        return 1
    except sizes.DeployedSizeExceeded as too_big:
        print(too_big, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
