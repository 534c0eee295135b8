"""Model artifacts: `make models` output copied into the assets bucket under models/ at deploy time."""

from __future__ import annotations

import math
import re

from aws_cdk import Acknowledgment, AssetHashType, DefaultStackSynthesizer, Size, Stack, Validations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct
from stack_build import model_staging

from infra import constants
from infra.catalog import MODELS_PREFIX

# The deployment's Lambda downloads the asset zip to /tmp and unpacks it there before syncing.
_MIB = 1024 * 1024
_MIN_EPHEMERAL_MIB, _MAX_EPHEMERAL_MIB = 512, 10240
BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"
# Custom resource handler memory: `aws s3 sync` of a few hundred MB goes faster with more CPU.
DEPLOYMENT_MEMORY_MB = 1024


class ModelArtifacts(Construct):
    """The manifest and the files it lists, put under `models/` in the assets bucket on every deploy.

    Nothing is pruned: retraining writes its own models under the same prefix, and a model a deployed
    pointer still names must not vanish because a newer build no longer lists it.
    """

    def __init__(self, scope: Construct, construct_id: str, *, assets_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self._assets_bucket = assets_bucket
        self.deployment: s3_deployment.BucketDeployment | None = None
        files = model_staging.deployed_files()
        if files is None:
            model_staging.notice_if_not_built()
            return
        staged = model_staging.stage(files)
        total_mib = math.ceil(sum(file.bytes for file in files) / _MIB)
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=assets_bucket,
            destination_key_prefix=MODELS_PREFIX,
            sources=[
                s3_deployment.Source.asset(
                    str(staged),
                    # The manifest records every file's sha256, so its own hash names the whole content
                    # (and a synthesis does not re-hash hundreds of MB of weights).
                    asset_hash=model_staging.content_hash(files),
                    asset_hash_type=AssetHashType.CUSTOM,
                )
            ],
            prune=False,
            retain_on_delete=True,
            # With many files the object-key list would overflow the 4 KB custom resource response.
            output_object_keys=False,
            memory_limit=DEPLOYMENT_MEMORY_MB,
            # The zip and its unpacked files are both on /tmp at once.
            ephemeral_storage_size=Size.mebibytes(
                min(_MAX_EPHEMERAL_MIB, max(_MIN_EPHEMERAL_MIB, 2 * total_mib + 256))
            ),
            # An explicit log group: retention without the LogRetention custom resource.
            log_group=logs.LogGroup(self, "DeploymentLogGroup", retention=constants.FUNCTION_LOG_RETENTION),
        )
        self._acknowledge_nag_findings()

    def _acknowledge_nag_findings(self) -> None:
        """CDK's BucketDeployment handler (a singleton function at stack level) is built the way CDK builds
        it; each acknowledgement names what it allows and why that is acceptable here."""
        handler = next(
            child
            for child in Stack.of(self).node.children
            if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        for finding, reason in NAG_REASONS.items():
            Validations.of(handler).acknowledge(Acknowledgment(id=finding, reason=reason))
        stack = Stack.of(self)
        logical_id, attribute = stack.resolve(self._assets_bucket.bucket_arn)["Fn::GetAtt"]
        # cdk-nag writes ${AWS::AccountId}-style placeholders of the asset bucket's name as <AWS::AccountId>.
        asset_bucket = bootstrap_asset_bucket_in_nag(self)
        wildcard_resources = {
            f"Resource::<{logical_id}.{attribute}>/*": (
                "BucketDeployment grants its handler read/write on the whole assets bucket (CDK calls "
                "grantReadWrite on the destination, whatever role is passed); the handler only syncs under "
                f"{MODELS_PREFIX} (destination_key_prefix) and never deletes (prune=False)."
            ),
            f"Resource::arn:<AWS::Partition>:s3:::{asset_bucket}/*": (
                "BucketDeployment reads its source zip from the CDK bootstrap asset bucket, whose object "
                "keys are content hashes known only at publish time."
            ),
        }
        for finding, reason in wildcard_resources.items():
            Validations.of(handler).acknowledge(
                Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason)
            )


NAG_REASONS = {
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]": (
        "CDK's BucketDeployment handler role: the AWS managed basic-execution policy only lets it write its "
        "own CloudWatch logs; the construct offers no way to swap it for an inline policy."
    ),
    "AwsSolutions-IAM5[Action::s3:GetBucket*]": (
        "BucketDeployment reads the CDK asset bucket and the assets bucket with s3:GetBucket*/List*/"
        "GetObject*: `aws s3 sync` needs bucket location and listing; CDK generates these grants."
    ),
    "AwsSolutions-IAM5[Action::s3:GetObject*]": (
        "BucketDeployment copies the model asset zip out of the CDK asset bucket (s3:GetObject*)."
    ),
    "AwsSolutions-IAM5[Action::s3:List*]": (
        "BucketDeployment lists the destination prefix to sync it (s3:List*)."
    ),
    "AwsSolutions-IAM5[Action::s3:DeleteObject*]": (
        "CDK's BucketDeployment grant includes s3:DeleteObject* for pruning; this deployment sets "
        "prune=False, so its handler never deletes an object."
    ),
    "AwsSolutions-IAM5[Action::s3:Abort*]": (
        "BucketDeployment aborts its own failed multipart uploads (s3:Abort*) of large model files."
    ),
    "AwsSolutions-L1": (
        "The BucketDeployment handler's runtime is chosen by aws-cdk-lib and moves with it; it runs only "
        "during deploys, with the AWS CLI layer CDK pins to it."
    ),
}


def bootstrap_asset_bucket_in_nag(scope: Construct) -> str:
    """The CDK bootstrap asset bucket's name as cdk-nag writes it in a finding: its `${AWS::AccountId}`-style
    placeholders as `<AWS::AccountId>`, under the deployment's bootstrap qualifier."""
    qualifier = (
        scope.node.try_get_context(BOOTSTRAP_QUALIFIER_CONTEXT) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )
    return re.sub(
        r"\$\{([^}]+)\}",
        r"<\1>",
        DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace("${Qualifier}", qualifier),
    )
