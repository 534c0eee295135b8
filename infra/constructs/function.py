"""One catalog FunctionSpec -> one Lambda function with its own role, log group, layers and grants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Annotations, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.catalog import SERVICE_NAME, Access, FunctionSpec, Resource
from infra.constructs.layers import ARCHITECTURE, RUNTIME, Layers
from infra.constructs.storage import StoredTable


@dataclass(frozen=True)
class SharedResources:
    """The constructs behind the catalog's logical resource names."""

    buckets: Mapping[Resource, s3.IBucket]
    tables: Mapping[Resource, StoredTable]
    queues: Mapping[Resource, sqs.IQueue]
    buses: Mapping[Resource, events.IEventBus]

    def physical_name(self, resource: Resource) -> str:
        """What a function's environment carries for `resource`: bucket/table name, queue URL."""
        if resource in self.buckets:
            return self.buckets[resource].bucket_name
        if resource in self.tables:
            return self.tables[resource].table.table_name
        if resource in self.queues:
            return self.queues[resource].queue_url
        if resource in self.buses:
            return self.buses[resource].event_bus_name
        raise KeyError(f"no construct for catalog resource {resource!r}")


# `cdk deploy -c creative:reservedConcurrency=false`: for accounts whose concurrency quota is too low to
# reserve any (Lambda keeps at least 100 unreserved, 10 on new accounts).
RESERVED_CONCURRENCY_CONTEXT = "creative:reservedConcurrency"
# `cdk deploy -c creative:snapStart=false`: the catalog's SnapStart functions run unpublished, as the others.
SNAP_START_CONTEXT = "creative:snapStart"
# The alias the API invokes a SnapStart function through (SnapStart snapshots published versions only).
LIVE_ALIAS = "live"


class CatalogFunction(Construct):
    """The Lambda function of one catalog entry, tagged with the catalog name in its CFN metadata."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        spec: FunctionSpec,
        *,
        resources: SharedResources,
        layers: Layers,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not spec.code_dir.is_dir():
            raise FileNotFoundError(f"the catalog declares {spec.name!r} but {spec.code_dir} does not exist")
        self.spec = spec
        self._resources = resources
        self._wildcard_resources_granted: list[str] = []

        # A role per function, with no managed policy: every permission below is written out.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Creative Engine {spec.name} function",
        )
        # An explicit log group: retention without the LogRetention custom resource.
        self.log_group = logs.LogGroup(self, "LogGroup", retention=constants.FUNCTION_LOG_RETENTION)
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(spec.code_dir), exclude=constants.ASSET_EXCLUDES),
            handler=spec.handler,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            layers=layers.for_function(spec),
            environment=self._environment(),
            dead_letter_queue=dead_letter_queue,
            reserved_concurrent_executions=spec.reserved_concurrency if self._may_reserve() else None,
            **self._snap_start_options(),
        )
        self.function.node.default_child.add_metadata(constants.FUNCTION_METADATA_KEY, spec.name)
        # What triggers invoke: the `live` alias of the current version under SnapStart, else $LATEST.
        self.invoked: lambda_.IFunction = self.function
        if self._snap_starts():
            self.invoked = lambda_.Alias(
                self, "LiveAlias", alias_name=LIVE_ALIAS, version=self.function.current_version
            )
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "Published: the API invokes the current version through the live alias.",
            )
        Tags.of(self).add("capability", spec.capability)

        for access in spec.access:
            self._grant(access)
        self._acknowledge_nag_findings()

    def _snap_starts(self) -> bool:
        return self.spec.snap_start and str(self.node.try_get_context(SNAP_START_CONTEXT)).lower() != "false"

    def _snap_start_options(self) -> dict:
        if not self._snap_starts():
            return {}
        return {
            "snap_start": lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
            # Each change publishes a version (and a snapshot, cached and billed while the version exists):
            # the version the alias left is deleted, not kept.
            "current_version_options": lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
        }

    def _may_reserve(self) -> bool:
        # Context from the command line is a string, from cdk.json a boolean.
        return str(self.node.try_get_context(RESERVED_CONCURRENCY_CONTEXT)).lower() != "false"

    def _environment(self) -> dict[str, str]:
        resource_env = {
            name: self._resources.physical_name(res) for name, res in self.spec.resource_env.items()
        }
        clashes = resource_env.keys() & self.spec.env.keys()
        if clashes:
            raise ValueError(f"{self.spec.name}: {sorted(clashes)} set both as resource and literal env")
        defaults = {
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": constants.POWERTOOLS_METRICS_NAMESPACE,
            "LOG_LEVEL": constants.LOG_LEVEL,
        }
        return defaults | resource_env | self.spec.env

    def _grant(self, access: Access) -> None:
        if access.resource in self._resources.buckets:
            self._grant_bucket(self._resources.buckets[access.resource], access)
        elif access.resource in self._resources.tables:
            self._grant_table(self._resources.tables[access.resource], access.actions)
        elif access.resource in self._resources.buses:
            bus = self._resources.buses[access.resource]
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=list(access.actions), resources=[bus.event_bus_arn])
            )
        else:
            raise KeyError(f"{self.spec.name}: no construct for catalog resource {access.resource!r}")

    def _grant_bucket(self, bucket: s3.IBucket, access: Access) -> None:
        object_pattern = f"{access.prefix or ''}*"
        object_actions = [a for a in access.actions if a not in constants.BUCKET_LEVEL_ACTIONS]
        bucket_actions = [a for a in access.actions if a in constants.BUCKET_LEVEL_ACTIONS]
        if object_actions:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=object_actions, resources=[bucket.arn_for_objects(object_pattern)]
                )
            )
            self._wildcard_resources_granted.append(
                self._nag_resource_name(bucket.bucket_arn, f"/{object_pattern}")
            )
        if bucket_actions:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=bucket_actions, resources=[bucket.bucket_arn])
            )

    def _nag_resource_name(self, arn: str, suffix: str) -> str:
        """How cdk-nag names `<arn><suffix>` in a finding, e.g. `Resource::<UploadsBucket1A2B.Arn>/uploads/*`."""
        logical_id, attribute = Stack.of(self).resolve(arn)["Fn::GetAtt"]
        return f"Resource::<{logical_id}.{attribute}>{suffix}"

    def _grant_table(self, stored: StoredTable, actions: tuple[str, ...]) -> None:
        table_arn = stored.table.table_arn
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[table_arn]))
        index_actions = [a for a in actions if a in constants.INDEX_ACTIONS]
        if index_actions and stored.index_names:
            # Index ARNs by name rather than `<table>/index/*`: no wildcard to justify.
            index_arns = [f"{table_arn}/index/{name}" for name in stored.index_names]
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=index_actions, resources=index_arns)
            )

    def _acknowledge_nag_findings(self) -> None:
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=(
                    "Pinned to python3.13 on purpose: the deps layer's compiled wheels (numpy, Pillow, "
                    "pydantic-core) are built for cp313, so the runtime moves together with "
                    "layers/deps/requirements.txt, not whenever CDK learns a newer runtime."
                ),
            )
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no "
                    "resource-level permissions, so AWS requires Resource '*' for them (and only them)."
                ),
            )
        )
        for finding in self._wildcard_resources_granted:
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[{finding}]",
                    reason=(
                        f"Object access of the {self.spec.name} function is scoped to the key prefix the "
                        "catalog declares for it (e.g. uploads/*); objects under a prefix can only be "
                        "named with a trailing wildcard."
                    ),
                )
            )
