"""Patches for the few places where moto 5.2 behaves unlike AWS in ways this system would notice.

They patch the moto running in this process (the runtime's ThreadedMotoServer, and `mock_aws` in the
same process once applied). Each is small, named after the AWS behaviour it restores, and checked by
tests/local/test_moto_gaps.py; moto is pinned (5.2.1) because they reach into its internals.
"""

from __future__ import annotations

import copy
import inspect
import sys
import threading
import uuid
from typing import Any
from urllib.parse import quote_plus

from moto.apigateway import models as apigateway_models
from moto.core import serialize as moto_serialize
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import table as dynamodb_table
from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.parsing import validators as dynamodb_validators
from moto.events import models as events_models
from moto.events import utils as events_utils
from moto.sqs import models as sqs_models

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _rules_deliver_only_matching_events()
    _s3_eventbridge_events_get_unique_ids()
    _s3_eventbridge_object_fields_as_aws_names_them()
    _sqs_queues_are_not_polled_by_moto()
    _mock_integrations_deploy()
    _dynamodb_transactions_back_up_items_not_tables()
    _event_bus_refs_resolve_to_names()
    _put_events_carry_their_account()
    _dynamodb_scalar_attribute_values_serialize_as_stored()
    _dynamodb_keys_only_index_queries_copy_keys_only()
    _dynamodb_table_queries_read_one_partition()
    _dynamodb_update_expressions_are_validated_once()
    _dynamodb_expressions_over_4_kb_are_refused()
    _dynamodb_long_update_expressions_fit_moto_s_recursion()
    _applied = True


def _rules_deliver_only_matching_events() -> None:
    """On AWS a schedule rule (no EventPattern) matches no events and a DISABLED rule delivers nothing.

    moto treats a missing pattern as "match everything" and ignores State, so every S3 event also reaches
    the schedule rule's Lambda target, which moto cannot invoke (NotImplementedError). In the S3 ->
    EventBridge path that error is swallowed and aborts the loop over rules, silently dropping the
    delivery to every rule created after the schedule rule (the upload queue's rule, for one).
    """
    original = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if self.state == "DISABLED":
            return
        if self.scheduled_expression and not self.event_pattern._pattern:
            return
        original(self, original_event, transform_input)

    events_models.Rule.send_to_targets = send_to_targets


class _EventWithFreshId(dict):
    """moto's template of an EventBridge event; each deep copy (one per S3 event) gets its own id."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        fresh = {key: copy.deepcopy(value, memo) for key, value in self.items()}
        fresh["id"] = str(uuid.uuid4())
        return fresh


def _event_bus_refs_resolve_to_names() -> None:
    """CloudFormation's `Ref` of an AWS::Events::EventBus is its name; moto's EventBus has no physical id,
    so a rule on the stack's own bus (`EventBusName: {"Ref": ...}`) fails CreateStack with an AttributeError.
    """
    events_models.EventBus.physical_resource_id = property(lambda self: self.name)


def _put_events_carry_their_account() -> None:
    """Every event EventBridge delivers names the account it came from; moto's default target input
    template leaves `account` out (its paths map has it), and a consumer parsing the documented envelope
    (Powertools' EventBridgeModel) rejects such an event."""
    parser = events_utils.EventTemplateParser
    if '"account"' not in parser.DEFAULT_EVENT_INPUT_TEMPLATE:
        parser.DEFAULT_EVENT_INPUT_TEMPLATE = parser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
            '"version": "0",', '"version": "0", "account": "<account>",'
        )


def _s3_eventbridge_events_get_unique_ids() -> None:
    """moto stamps every S3 -> EventBridge event with one fixed id; AWS gives each event its own.

    Consumers that deduplicate on the event id (idempotency) would otherwise see every upload as a repeat.
    moto's put_events overwrites the id after copying this template, so only the S3 path changes.
    """
    events_utils._BASE_EVENT_MESSAGE = _EventWithFreshId(events_utils._BASE_EVENT_MESSAGE)


def _s3_eventbridge_object_fields_as_aws_names_them() -> None:
    """S3's EventBridge events say `etag`, and leave out `version-id` for an unversioned bucket.

    moto writes `eTag` (the spelling of S3's *direct* notifications) and `"version-id": "null"`, so a
    parser written against AWS's documented event (Powertools' S3EventNotificationEventBridgeModel) reads
    no etag at all. moto also sends the key raw; S3 URL-encodes keys in its events (spaces as '+'),
    which Powertools' own S3 EventBridge data class undoes with unquote_plus, so the key is encoded here
    the same way ('/' kept, so prefix rules still match). Admission decodes it, and falls back to the raw
    spelling if a key with a literal '+' or '%' was not encoded after all.
    """
    original = events_models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if original_event.get("source") == "aws.s3":
            # moto hands the same event to every rule on the bus: rewrite a copy, never the shared one.
            original_event = copy.deepcopy(original_event)
            _rename_s3_object_fields(original_event.get("detail", {}).get("object", {}))
        original(self, original_event, transform_input)

    events_models.Rule.send_to_targets = send_to_targets


def _rename_s3_object_fields(obj: dict[str, Any]) -> None:
    if "key" in obj:
        obj["key"] = quote_plus(obj["key"], safe="/")
    if "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    if obj.get("version-id") in (None, "null"):
        obj.pop("version-id", None)


def _sqs_queues_are_not_polled_by_moto() -> None:
    """Lambda's pollers deliver SQS messages to functions; locally that is local_runtime.queues' job.

    moto plays that part itself, inline in every SendMessage: it receives up to a batch of visible
    messages, tries to run the mapped function in Docker, fails without Docker, and makes them visible
    again. Each attempt bumps the receive count of every message it touched, so messages reach the
    dead-letter queue before any handler ran. moto's Lambda service keeps its own record of the
    mappings (list/get_event_source_mapping still answer); only the queue's inline delivery goes.
    """
    sqs_models.Queue.lambda_event_source_mappings = property(
        lambda self: {},  # a fresh empty dict: what moto stores in it is dropped
        lambda self, value: None,
    )


def _mock_integrations_deploy() -> None:
    """A MOCK integration (CDK's CORS preflight OPTIONS methods) has no IntegrationHttpMethod and no Uri.

    moto's CloudFormation reads both unconditionally, and the KeyError fails the whole CreateStack with a
    500. Missing, they mean "none", as in AWS's own PutIntegration.
    """
    original = apigateway_models.Method.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        integration = cloudformation_json["Properties"].setdefault("Integration", {"Type": "MOCK"})
        integration.setdefault("IntegrationHttpMethod", None)
        integration.setdefault("Uri", None)
        return original(cls, resource_name, cloudformation_json, *args, **kwargs)

    apigateway_models.Method.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


class _CopyWithoutTables:
    """moto's `copy` module, except that deep-copying a whole Table returns the table itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _transaction_keys(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    keys = []
    for entry in transact_items:
        ((_, op),) = entry.items()
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        if "Key" in op:
            keys.append((table.name, op["Key"]))
        else:
            names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
            keys.append((table.name, {n: op["Item"][n] for n in names if n in op["Item"]}))
    return keys


def _dynamodb_transactions_back_up_items_not_tables() -> None:
    """AWS transactions cost per item; moto's deep-copy every table they touch (to roll back), so a
    click's transaction grew with the impressions table and timed out a long demo. Back up, and on
    failure restore, only the items the transaction names."""
    dynamodb_models.copy = _CopyWithoutTables()
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _DYNAMODB_WRITES:
            backup = [
                (name, key, copy.deepcopy(self.get_item(name, key)))
                for name, key in _transaction_keys(self, transact_items)
            ]
            try:
                original(self, transact_items)
            except Exception:
                for name, key, item in backup:
                    self.delete_item(name, key)
                    if item is not None:
                        self.tables[name].put_item(item.to_json()["Attributes"])
                raise

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    # AWS isolates a transaction from every other write to its items; moto's server runs requests on
    # threads, so a transaction rolled back while another write landed on its items restored the old item
    # over it (a concurrent retry of the same select undid the first's impression and count). One lock
    # orders transactions and single-item writes, as DynamoDB's isolation would.
    for name in ("put_item", "update_item", "delete_item"):
        setattr(
            dynamodb_models.DynamoDBBackend,
            name,
            _under_write_lock(getattr(dynamodb_models.DynamoDBBackend, name)),
        )


_DYNAMODB_WRITES = threading.RLock()


def _under_write_lock(write: Any) -> Any:
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_WRITES:
            return write(self, *args, **kwargs)

    return locked


# AttributeValues moto stores in wire form already: {"N": "1.5"}, {"S": "x"}. Binary ones need base64 and
# nested ones (M, L) hold moto's own types, so those keep moto's serializer.
_WIRE_READY_TYPES = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def _dynamodb_scalar_attribute_values_serialize_as_stored() -> None:
    """DynamoDB answers a 100-item BatchGetItem in milliseconds; moto 5.2's generic serializer walks each
    AttributeValue through the service model (about 60 µs a value), so a line's racing state (100 items
    of 80 counters) took 0.55 s to read and a loaded demo's selects ran past their timeout. Scalar
    AttributeValues are already in their wire form; write them as they are."""
    original = moto_serialize.BaseJSONSerializer._serialize_type_structure

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            shape.name == "AttributeValue"
            and isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in _WIRE_READY_TYPES
        ):
            self._default_serialize(serialized, value, shape, key)
            return
        original(self, serialized, value, shape, key)

    moto_serialize.BaseJSONSerializer._serialize_type_structure = _serialize_type_structure


_KEYS_ONLY_QUERY = threading.local()  # the attributes a keys-only index query keeps, while it runs


class _TableCopy:
    """moto's `copy` module as its table code sees it, except that a keys-only index query's matches are
    copied with their keys only (the projection that follows keeps nothing else)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        keep = getattr(_KEYS_ONLY_QUERY, "attributes", None)
        if keep is not None and isinstance(value, list) and all(isinstance(i, Item) for i in value):
            return [_with_only(item, keep) for item in value]
        return copy.deepcopy(value, memo)


def _with_only(item: Item, attributes: frozenset[str]) -> Item:
    result = Item.__new__(Item)
    result.hash_key = copy.deepcopy(item.hash_key)
    result.range_key = copy.deepcopy(item.range_key)
    kept = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(kept)
    for name in attributes:
        value = item.attrs.get(name)
        if value is not None:
            dict.__setitem__(kept, name, copy.deepcopy(value))
    result.attrs = kept
    return result


_QUERY_PARAMETERS = list(inspect.signature(Table.query).parameters)[1:]  # after self


def _query_argument(name: str, args: tuple, kwargs: dict) -> Any:
    """An argument of moto's Table.query, whether passed by name or by position."""
    if name in kwargs:
        return kwargs[name]
    position = _QUERY_PARAMETERS.index(name)
    return args[position] if position < len(args) else None


def _dynamodb_keys_only_index_queries_copy_keys_only() -> None:
    """A query on a keys-only index reads index entries of a few bytes on AWS; moto deep-copies every whole
    matching item, then projects it to its keys. The racing state's line index (keys only: one query per
    read of a line's state) copied 200 items of 80 to 140 counters for each refresh, and slowed every
    select of the demo as the counters grew. Copy only the keys such a query returns. Its 1 MB page limit
    counts index entries on AWS too, so moto's sizing of every whole match (twice each) counts keys only."""
    dynamodb_table.copy = _TableCopy()
    original = Table.query
    original_size = Item.size

    def size(self: Item) -> int:
        keep = getattr(_KEYS_ONLY_QUERY, "attributes", None)
        if keep is None:
            return original_size(self)
        return sum(bytesize(name) + self.attrs[name].size() for name in keep if name in self.attrs)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = _query_argument("index_name", args, kwargs)
        index = next((i for i in self.all_indexes() if i.name == index_name), None) if index_name else None
        if index is None or (index.projection or {}).get("ProjectionType") != "KEYS_ONLY":
            return original(self, *args, **kwargs)
        _KEYS_ONLY_QUERY.attributes = frozenset(
            [*index.table_key_attrs, *(key["AttributeName"] for key in index.schema)]
        )
        try:
            return original(self, *args, **kwargs)
        finally:
            _KEYS_ONLY_QUERY.attributes = None

    Item.size = size
    Table.query = query


_ONE_PARTITION = threading.local()  # (table, hash key) of the table query running on this thread


def _dynamodb_table_queries_read_one_partition() -> None:
    """A query on a table reads one partition on AWS; moto lists and sorts every item of the table, then
    keeps those with the queried hash key. With every material, similarity-index entry and racing counter
    in one table, tagging's near-duplicate lookup spent more time in that sort than in its models, and it
    grew with the table. While a table query runs, its table lists only the queried partition; while an
    index query runs, it lists its items unsorted (moto sorts what the index matches by the index's keys,
    then the table's, a total order, right after)."""
    original_all_items = Table.all_items
    original_query = Table.query

    def all_items(self: Any) -> list[Item]:
        running = getattr(_ONE_PARTITION, "query", None)
        if running is None or running[0] is not self:
            return original_all_items(self)
        key = running[1]  # None: an index query, which needs every item
        if key is None:
            partitions = list(self.items.values())
        else:  # `in` first: self.items is a defaultdict, and a lookup would create the partition
            partitions = [self.items[key]] if key in self.items else []
        if not self.range_key_attr:
            return partitions
        items = [item for partition in partitions for item in partition.values()]
        return items if key is None else sorted(items, key=lambda item: item.range_key)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = _query_argument("index_name", args, kwargs)
        hash_key = _query_argument("hash_key", args, kwargs)
        if not index_name and hash_key is None:
            return original_query(self, *args, **kwargs)
        _ONE_PARTITION.query = (self, None if index_name else hash_key)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _ONE_PARTITION.query = None

    Table.all_items = all_items
    Table.query = query


def _dynamodb_update_expressions_are_validated_once() -> None:
    """moto parses "ADD a :x, b :y, ..." into a chain of nested UpdateExpression nodes, and two validators
    (one ADD/SET/REMOVE clause each, no path updated twice) rescan the whole subtree under every node of the
    chain: quadratic in the actions. A racing write adds 80 to 140 counters, so half of its time went there
    (a transaction of 80 ADDs: 57 ms). Every clause and path is under the root, so checking the root alone
    finds every violation the nested checks would."""
    for validator, check in (
        (dynamodb_validators.ActionCountValidator, "verify_action_counts"),
        (dynamodb_validators.OverlappingPathsValidator, "check_for_overlapping_paths"),
    ):
        original = getattr(validator, check)

        def at_the_root(self: Any, node: Any, original: Any = original) -> Any:
            return original(self, node) if node.parent is None else node

        setattr(validator, check, at_the_root)


MAX_EXPRESSION_BYTES = 4096  # DynamoDB's constraints: "the maximum length of any expression string is 4 KB"


def _dynamodb_expressions_over_4_kb_are_refused() -> None:
    """DynamoDB refuses an update or condition expression longer than 4 KB with a ValidationException; moto
    runs it. A racing write crosses every key the learner activates with the user's features, and with 16
    features and 8 tags it had reached 5.7 KB: it ran on the local runtime and would have failed every such
    select on AWS. Refused here as there (inside a transaction too: the whole request fails)."""
    original = dynamodb_models.DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: Any, update_expression: str, *args: Any, **kwargs: Any):
        condition = kwargs.get("condition_expression")
        for name, expression in (("UpdateExpression", update_expression), ("ConditionExpression", condition)):
            if expression and len(expression.encode()) > MAX_EXPRESSION_BYTES:
                raise MockValidationException(
                    f"Invalid {name}: Expression size has exceeded the maximum allowed size; "
                    f"expression size: {len(expression.encode())}"
                )
        return original(self, table_name, key, update_expression, *args, **kwargs)

    dynamodb_models.DynamoDBBackend.update_item = update_item


def _dynamodb_long_update_expressions_fit_moto_s_recursion() -> None:
    """DynamoDB takes any update expression within 4 KB; moto deep-copies its syntax tree recursively, and
    a copy of 200 ADDs and 200 REMOVEs already passed Python's default limit of 1,000 frames, so a racing
    write at the learner's bound (119 keys: about 240 of each) failed locally. The runtime's process allows
    10,000, under which that write runs (the adapter tests' largest racing write)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
