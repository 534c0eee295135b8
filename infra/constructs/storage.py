"""Buckets and tables: where uploads, generated assets and every record of the system live."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.catalog import Resource

STRING = dynamodb.AttributeType.STRING


@dataclass(frozen=True)
class IndexDesign:
    name: str
    partition_key: str
    sort_key: str | None = None
    keys_only: bool = False  # an index of keys is written only when an item's keys change


@dataclass(frozen=True)
class TableDesign:
    resource: Resource
    construct_id: str
    partition_key: str
    indexes: tuple[IndexDesign, ...] = ()
    ttl_attribute: str | None = None
    sort_key: str | None = None


# The key schema the domain repositories rely on. All keys are strings.
TABLE_DESIGNS: tuple[TableDesign, ...] = (
    TableDesign(
        resource="materials_table",
        construct_id="MaterialsTable",
        partition_key="material_id",
        indexes=(
            # line_status = "<business_line>#<status>", so one query lists e.g. a line's admitted images.
            IndexDesign("by_business_line_status", "line_status", "created_at"),
            # Duplicate detection: the same bytes uploaded twice map to one material.
            IndexDesign("by_content_hash", "content_hash"),
        ),
    ),
    TableDesign(
        resource="creatives_table",
        construct_id="CreativesTable",
        partition_key="creative_id",
        indexes=(IndexDesign("by_business_line", "business_line", "creative_id"),),
    ),
    TableDesign(
        resource="racing_state_table",
        construct_id="RacingStateTable",
        # state_id = a creative's id, or "line:<business_line>" for the line's settings; shard = "0".."n-1":
        # a hot creative's writes spread over several items (summed on read). Every impression updates an
        # item here, so the line's index holds keys only: no update is repeated on the index.
        partition_key="state_id",
        sort_key="shard",
        indexes=(IndexDesign("by_business_line", "business_line", "state_id", keys_only=True),),
    ),
    TableDesign(
        resource="impressions_table",
        construct_id="ImpressionsTable",
        partition_key="impression_id",
        # Retraining reads its window of impressions day by day, never the whole table: day_bucket =
        # "<created_at's day>#<shard>" (creative.adapters.dynamodb_impressions), sorted by created_at. The
        # shard spreads a day's writes over DAY_SHARDS index partitions, so a busy day does not throttle select.
        indexes=(IndexDesign("by_day", "day_bucket", "created_at"),),
        # Impressions only matter until their click window closes.
        ttl_attribute="expires_at",
    ),
    TableDesign(
        resource="model_registry_table",
        construct_id="ModelRegistryTable",
        # record = "active" (the promoted model's pointer) or "run#<started_at>" (a retraining report).
        partition_key="model_name",
        sort_key="record",
    ),
    TableDesign(
        resource="tags_table",
        construct_id="TagsTable",
        # line_tag = "<business_line>#<tag>": one query answers "the materials of a line with this tag".
        partition_key="line_tag",
        sort_key="material_id",
    ),
    TableDesign(
        resource="line_settings_table",
        construct_id="LineSettingsTable",
        # setting = "compliance" (the current list), "compliance#v<version>" (each saved version) or
        # "quality_policy" (the line's threshold overrides).
        partition_key="business_line",
        sort_key="setting",
    ),
    TableDesign(
        resource="similarity_table",
        construct_id="SimilarityTable",
        # The near-duplicate index: bucket = "<business_line>#<space>#<hash key>" with material_id =
        # "#members" lists a hash bucket's members; bucket = "<business_line>#<space>#fingerprints" holds
        # each material's fingerprint (creative.adapters.dynamodb_similarity_index).
        partition_key="bucket",
        sort_key="material_id",
    ),
    TableDesign(
        resource="idempotency_table",
        construct_id="IdempotencyTable",
        # Powertools idempotency's DynamoDBPersistenceLayer defaults.
        partition_key="id",
        ttl_attribute="expiration",
    ),
)


@dataclass(frozen=True)
class StoredTable:
    """A table and the names of its global secondary indexes (grants list their ARNs one by one)."""

    table: dynamodb.Table
    index_names: tuple[str, ...]


class Storage(Construct):
    """The uploads and assets buckets (with a bucket for their access logs) and the tables."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            **_locked_down_bucket_props(),
            lifecycle_rules=[s3.LifecycleRule(expiration=constants.ACCESS_LOGS_EXPIRE_AFTER)],
        )
        self.uploads_bucket = self._data_bucket("UploadsBucket", access_log_prefix="uploads-bucket/")
        self.assets_bucket = self._data_bucket("AssetsBucket", access_log_prefix="assets-bucket/")
        self.buckets: dict[Resource, s3.Bucket] = {
            "uploads_bucket": self.uploads_bucket,
            "assets_bucket": self.assets_bucket,
        }
        self.tables: dict[Resource, StoredTable] = {
            design.resource: StoredTable(
                table=self._table(design), index_names=tuple(index.name for index in design.indexes)
            )
            for design in TABLE_DESIGNS
        }

    def private_bucket_props(self, access_log_prefix: str) -> dict:
        """What every private bucket of the stack is: locked down, access-logged here."""
        return {
            **_locked_down_bucket_props(),
            "server_access_logs_bucket": self.access_logs_bucket,
            "server_access_logs_prefix": access_log_prefix,
        }

    def _data_bucket(self, construct_id: str, access_log_prefix: str) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            **_locked_down_bucket_props(),
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    abort_incomplete_multipart_upload_after=constants.ABORT_INCOMPLETE_UPLOADS_AFTER,
                    noncurrent_version_expiration=constants.NONCURRENT_VERSIONS_EXPIRE_AFTER,
                )
            ],
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=access_log_prefix,
        )

    def _table(self, design: TableDesign) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            design.construct_id,
            partition_key=dynamodb.Attribute(name=design.partition_key, type=STRING),
            sort_key=dynamodb.Attribute(name=design.sort_key, type=STRING) if design.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=design.ttl_attribute,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in design.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=STRING),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=STRING) if index.sort_key else None,
                projection_type=(
                    dynamodb.ProjectionType.KEYS_ONLY if index.keys_only else dynamodb.ProjectionType.ALL
                ),
            )
        return table


def _locked_down_bucket_props() -> dict:
    """Private, encrypted, TLS-only (1.2+), owner-enforced and kept when the stack is deleted."""
    return {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        # SSE-S3: server access logs can only be delivered to SSE-S3 buckets, and it needs no key policy.
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "minimum_tls_version": constants.MINIMUM_TLS_VERSION,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        # No auto_delete_objects: it would add a custom resource, and uploads are the customer's data.
        "removal_policy": RemovalPolicy.RETAIN,
    }
