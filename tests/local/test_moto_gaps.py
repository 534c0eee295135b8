"""Each moto_gaps patch restores an AWS behaviour this system relies on; these tests fail if it is lost
(or if a moto upgrade changes what the patches touch)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from local_runtime.moto_server import MotoEndpoint

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


class UploadRouting:
    """A bucket sending events to EventBridge, and a rule routing uploads/ objects to a queue."""

    def __init__(
        self, aws: MotoEndpoint, *, schedule_rule_first: bool = True, versioned: bool = False
    ) -> None:
        self.s3, self.sqs, self.events = aws.client("s3"), aws.client("sqs"), aws.client("events")
        self.bucket = "uploads"
        self.s3.create_bucket(Bucket=self.bucket)
        if versioned:
            self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        self.queue_url = self.sqs.create_queue(QueueName="upload-events")["QueueUrl"]
        if schedule_rule_first:
            self.events.put_rule(Name="compose-every-5-minutes", ScheduleExpression="rate(5 minutes)")
            self.events.put_targets(
                Rule="compose-every-5-minutes",
                Targets=[{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:compose"}],
            )
        pattern = {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"object": {"key": [{"prefix": "uploads/"}]}},
        }
        self.events.put_rule(Name="uploads-to-queue", EventPattern=json.dumps(pattern))
        self.events.put_targets(
            Rule="uploads-to-queue",
            Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:upload-events"}],
        )

    def events_received(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


def _string_keyed_table(dynamodb, name: str, key: str = "id") -> None:
    """An on-demand table keyed by one string attribute."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_a_schedule_rule_does_not_swallow_s3_events(aws):
    # Given a schedule rule targeting a Lambda, created before the rule routing uploads to a queue
    routing = UploadRouting(aws, schedule_rule_first=True)
    # When an object lands under uploads/
    routing.s3.put_object(Bucket=routing.bucket, Key="uploads/food/coffee/a.jpg", Body=b"x")
    # Then the upload rule still delivered it (moto's schedule rule "matched" and aborted the loop)
    (event,) = routing.events_received()
    assert event["detail"]["object"]["key"] == "uploads/food/coffee/a.jpg"


def test_a_disabled_rule_delivers_nothing(aws):
    # Given the upload rule disabled
    routing = UploadRouting(aws, schedule_rule_first=False)
    routing.events.disable_rule(Name="uploads-to-queue")
    # When an object lands, Then nothing reaches the queue
    routing.s3.put_object(Bucket=routing.bucket, Key="uploads/x.jpg", Body=b"x")
    assert routing.events_received() == []


def test_s3_events_have_their_own_ids_and_aws_field_names(aws):
    # Given uploads to an unversioned bucket, one with characters S3's direct notifications would encode
    routing = UploadRouting(aws)
    routing.s3.put_object(Bucket=routing.bucket, Key="uploads/a/sun hat+1.jpg", Body=b"x")
    routing.s3.put_object(Bucket=routing.bucket, Key="uploads/a/b.jpg", Body=b"y")
    # When their events arrive
    first, second = routing.events_received()
    # Then each has its own id, an "etag", no "version-id", and the key as it was written
    assert first["id"] != second["id"]
    assert set(first["detail"]["object"]) == {"key", "size", "etag", "sequencer"}
    assert first["detail"]["object"]["key"] == "uploads/a/sun+hat%2B1.jpg"  # URL-encoded, as S3 sends keys


def test_s3_events_of_a_versioned_bucket_carry_the_version(aws):
    routing = UploadRouting(aws, versioned=True)
    put = routing.s3.put_object(Bucket=routing.bucket, Key="uploads/a/b.jpg", Body=b"x")
    (event,) = routing.events_received()
    assert event["detail"]["object"]["version-id"] == put["VersionId"]


def test_moto_does_not_receive_from_mapped_queues_itself(aws):
    # Given a queue mapped to a function in moto's Lambda service (which cannot run it without Docker)
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    queue_url = sqs.create_queue(QueueName="mapped")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    role = aws.client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    lam.create_function(
        FunctionName="consumer",
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="handler.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
    )
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer", BatchSize=10)
    # When messages are sent
    sqs.send_message(QueueUrl=queue_url, MessageBody="one")
    sqs.send_message(QueueUrl=queue_url, MessageBody="two")
    # Then no one received them before the local poller would: their first receive is number 1
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
    )
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in messages["Messages"]] == ["1", "1"]
    # And moto's Lambda service still lists the mapping
    assert (
        lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"][0]["EventSourceArn"]
        == queue_arn
    )


def test_applying_twice_changes_nothing():
    # Given the patches already applied (the moto server fixture did)
    from local_runtime import moto_gaps
    from moto.events.models import Rule

    patched = Rule.send_to_targets
    # When applied again, Then the methods are not wrapped a second time
    moto_gaps.apply()
    assert Rule.send_to_targets is patched


def test_a_cancelled_transaction_rolls_back_only_its_items_without_copying_tables(aws):
    # Given a table with two items, and moto's backend object for it
    from moto.dynamodb.models import dynamodb_backends

    dynamodb = aws.client("dynamodb")
    _string_keyed_table(dynamodb, "arms")
    for key in ("a", "b"):
        dynamodb.put_item(TableName="arms", Item={"id": {"S": key}, "n": {"N": "1"}})
    backend = dynamodb_backends[aws.account_id()][aws.region]
    table = backend.tables["arms"]
    add = {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    # When a transaction updates "a" but fails its condition on "b"
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": "arms", "Key": {"id": {"S": "a"}}, **add}},
                {
                    "Update": {
                        "TableName": "arms",
                        "Key": {"id": {"S": "b"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                        **add,
                    }
                },
            ]
        )
    # Then neither item changed, and the table is the same object (it was not restored from a deep copy)
    items = {i["id"]["S"]: i["n"]["N"] for i in dynamodb.scan(TableName="arms")["Items"]}
    assert items == {"a": "1", "b": "1"}
    assert backend.tables["arms"] is table
    # And a transaction that succeeds applies both updates
    dynamodb.transact_write_items(
        TransactItems=[{"Update": {"TableName": "arms", "Key": {"id": {"S": k}}, **add}} for k in ("a", "b")]
    )
    assert {i["id"]["S"]: i["n"]["N"] for i in dynamodb.scan(TableName="arms")["Items"]} == {
        "a": "2",
        "b": "2",
    }


def test_events_put_on_a_custom_bus_reach_a_queue_in_the_documented_envelope(aws):
    # Given a rule on a custom bus routing to a queue
    events, sqs = aws.client("events"), aws.client("sqs")
    events.create_event_bus(Name="material-events")
    queue_url = sqs.create_queue(QueueName="tagging")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="to-tagging", EventBusName="material-events", EventPattern=json.dumps({"source": ["a"]})
    )
    events.put_targets(Rule="to-tagging", EventBusName="material-events", Targets=[{"Id": "q", "Arn": arn}])
    # When an event is put on the bus
    events.put_events(
        Entries=[{"Source": "a", "DetailType": "T", "EventBusName": "material-events", "Detail": "{}"}]
    )
    # Then the queue holds it with every field of EventBridge's envelope, the account included
    (message,) = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    assert EventBridgeModel.model_validate_json(message["Body"]).account == "123456789012"


def test_a_rule_on_the_stacks_own_bus_deploys_with_cloudformation(aws):
    # Given a template with a bus and a rule on it (Ref of the bus is its name)
    template = {
        "Resources": {
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "stack-bus"}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["a"]},
                    "State": "ENABLED",
                },
            },
        }
    }
    cloudformation = aws.client("cloudformation")
    # When it is deployed
    cloudformation.create_stack(StackName="bus", TemplateBody=json.dumps(template))
    # Then the rule sits on that bus
    rules = aws.client("events").list_rules(EventBusName="stack-bus")["Rules"]
    assert len(rules) == 1 and rules[0]["EventBusName"] == "stack-bus"


def test_concurrent_transactions_on_the_same_items_never_undo_each_other(monkeypatch):
    import threading
    import uuid

    import boto3
    import botocore.exceptions
    from creative.adapters.aws_errors import error_code
    from local_runtime import moto_gaps
    from moto import mock_aws

    # Given a counter and a log, and two threads making the same transactions at once (a select and its
    # retry, both in flight): count, and log the id if it is not logged yet (moto in this process, where
    # both really run at once)
    moto_gaps.apply()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for table in ("counts", "log"):
            _string_keyed_table(dynamodb, table)
        ids = [uuid.uuid4().hex for _ in range(300)]
        count = {
            "TableName": "counts",
            "Key": {"id": {"S": "c"}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }

        errors: list[Exception] = []
        cancelled = [0, 0]

        def make_every_transaction(thread_index: int) -> None:
            for i in ids:
                log = {
                    "TableName": "log",
                    "Item": {"id": {"S": i}},
                    "ConditionExpression": "attribute_not_exists(id)",
                }
                try:
                    dynamodb.transact_write_items(TransactItems=[{"Update": count}, {"Put": log}])
                except botocore.exceptions.ClientError as error:
                    # Cancelled when the other thread logged it first. Matched by code: botocore makes a
                    # client's exception classes lazily, and two threads racing to make them can each get
                    # their own, so `dynamodb.exceptions.TransactionCanceledException` may miss.
                    if error_code(error) != "TransactionCanceledException":
                        errors.append(error)
                        return
                    cancelled[thread_index] += 1
                except Exception as error:  # a thread's exception would otherwise vanish with the thread
                    errors.append(error)
                    return

        # When both run
        threads = [threading.Thread(target=make_every_transaction, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then neither thread stopped early, and every id is logged and counted once: no rollback restored an
        # item another write had changed
        assert errors == []
        assert sum(cancelled) == len(ids)  # each id: one thread logged it, the other's transaction cancelled
        counted = dynamodb.get_item(TableName="counts", Key={"id": {"S": "c"}})["Item"]["n"]["N"]
        assert (int(counted), dynamodb.scan(TableName="log")["Count"]) == (len(ids), len(ids))


def test_every_attribute_type_reads_back_as_written_through_the_fast_path(aws):
    dynamodb = aws.client("dynamodb")
    _string_keyed_table(dynamodb, "attribute-types")
    item = {
        "id": {"S": "a"},
        "count": {"N": "12.5"},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "names": {"SS": ["x", "y"]},
        "numbers": {"NS": ["1", "2.5"]},
        "blob": {"B": b"\x00\xffbytes"},
        "blobs": {"BS": [b"\x01", b"\x02"]},
        "nested": {"M": {"n": {"N": "3"}, "l": {"L": [{"S": "s"}, {"B": b"\x03"}, {"M": {}}]}}},
    }
    dynamodb.put_item(TableName="attribute-types", Item=item)

    got = dynamodb.get_item(TableName="attribute-types", Key={"id": {"S": "a"}})["Item"]
    batch = dynamodb.batch_get_item(RequestItems={"attribute-types": {"Keys": [{"id": {"S": "a"}}]}})

    def normalised(attributes: dict) -> dict:
        # Sets come back in no particular order, as on AWS.
        return {
            k: {t: sorted(v) if t in ("SS", "NS", "BS") else v for t, v in a.items()}
            for k, a in attributes.items()
        }

    assert normalised(got) == normalised(item)
    assert normalised(batch["Responses"]["attribute-types"][0]) == normalised(item)


def test_a_keys_only_index_query_returns_the_keys_and_an_all_index_query_everything(aws):
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="projections",
        KeySchema=[
            {"AttributeName": "id", "KeyType": "HASH"},
            {"AttributeName": "shard", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "shard", "AttributeType": "S"},
            {"AttributeName": "line", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [{"AttributeName": "line", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": projection},
            }
            for name, projection in (("keys", "KEYS_ONLY"), ("all", "ALL"))
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(3):
        item = {"id": {"S": f"c{i}"}, "shard": {"S": "0"}, "line": {"S": "food"}}
        item |= {f"n{j}": {"N": str(j)} for j in range(50)}
        dynamodb.put_item(TableName="projections", Item=item)
    dynamodb.put_item(
        TableName="projections", Item={"id": {"S": "x"}, "shard": {"S": "0"}, "line": {"S": "pets"}}
    )

    def query(index: str) -> list[dict]:
        return dynamodb.query(
            TableName="projections",
            IndexName=index,
            KeyConditionExpression="line = :l",
            ExpressionAttributeValues={":l": {"S": "food"}},
        )["Items"]

    keys = query("keys")
    assert sorted(k["id"]["S"] for k in keys) == ["c0", "c1", "c2"]
    assert all(set(k) == {"id", "shard", "line"} for k in keys)
    everything = query("all")
    assert all(len(item) == 53 and item["n49"] == {"N": "49"} for item in everything)
    # The table's own items are untouched by the keys-only copy
    stored = dynamodb.get_item(TableName="projections", Key={"id": {"S": "c1"}, "shard": {"S": "0"}})["Item"]
    assert len(stored) == 53


def test_a_table_query_reads_its_partition_in_key_order_and_pages_through_it(aws):
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="partitions",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    _string_keyed_table(dynamodb, "hash_only", key="pk")
    for sk in (5, 1, 30, 12, 7):  # written out of order; numbers sort as numbers
        for pk in ("a", "b", "c"):
            dynamodb.put_item(
                TableName="partitions", Item={"pk": {"S": pk}, "sk": {"N": str(sk)}, "g": {"S": "all"}}
            )
    for pk in ("a", "b"):
        dynamodb.put_item(TableName="hash_only", Item={"pk": {"S": pk}, "v": {"S": pk * 2}})

    def page(table: str, pk: str, **extra) -> dict:
        return dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": pk}},
            **extra,
        )

    assert [int(i["sk"]["N"]) for i in page("partitions", "b")["Items"]] == [1, 5, 7, 12, 30]
    assert [int(i["sk"]["N"]) for i in page("partitions", "c", ScanIndexForward=False)["Items"]] == [
        30,
        12,
        7,
        5,
        1,
    ]
    first = page("partitions", "a", Limit=2)
    rest = page("partitions", "a", ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [int(i["sk"]["N"]) for i in first["Items"] + rest["Items"]] == [1, 5, 7, 12, 30]
    assert page("partitions", "zz")["Items"] == []
    assert page("hash_only", "b")["Items"] == [{"pk": {"S": "b"}, "v": {"S": "bb"}}]
    assert page("hash_only", "zz")["Items"] == []
    assert dynamodb.scan(TableName="hash_only")["Count"] == 2  # the missed key left nothing behind
    by_g = dynamodb.query(
        TableName="partitions",
        IndexName="by_g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "all"}},
    )["Items"]
    assert [(int(i["sk"]["N"]), i["pk"]["S"]) for i in by_g] == sorted(
        (sk, pk) for sk in (5, 1, 30, 12, 7) for pk in "abc"
    )
    # A scan still sees every partition
    assert dynamodb.scan(TableName="partitions")["Count"] == 15


def test_update_expressions_are_still_refused_for_repeated_clauses_or_paths(aws):
    import botocore.exceptions

    dynamodb = aws.client("dynamodb")
    _string_keyed_table(dynamodb, "updates", key="pk")
    key = {"pk": {"S": "x"}}
    many = 120  # the size of a racing write
    dynamodb.update_item(
        TableName="updates",
        Key=key,
        UpdateExpression="ADD " + ", ".join(f"#a{i} :v{i}" for i in range(many)) + " SET #s = :s",
        ExpressionAttributeNames={f"#a{i}": f"n{i}" for i in range(many)} | {"#s": "s"},
        ExpressionAttributeValues={f":v{i}": {"N": str(i)} for i in range(many)} | {":s": {"S": "ok"}},
    )
    item = dynamodb.get_item(TableName="updates", Key=key)["Item"]
    assert item["n119"] == {"N": "119"} and item["s"] == {"S": "ok"} and len(item) == many + 2

    def refused(expression: str, names: dict) -> str:
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            dynamodb.update_item(
                TableName="updates",
                Key=key,
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":x": {"N": "1"}, ":y": {"N": "2"}},
            )
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        return raised.value.response["Error"]["Message"]

    # Two ADD clauses, deep in a long expression or at its end, and one path updated twice
    filler = ", ".join(f"#f{i} :x" for i in range(30))
    fillers = {f"#f{i}": f"f{i}" for i in range(30)}
    assert "ADD" in refused(f"ADD {filler} ADD #a :y", fillers | {"#a": "a"})
    assert "ADD" in refused(f"ADD #a :y ADD {filler}", fillers | {"#a": "a"})
    assert "[a]" in refused(f"ADD {filler}, #a :x, #b :y", fillers | {"#a": "a", "#b": "a"})
    assert dynamodb.get_item(TableName="updates", Key=key)["Item"] == item  # nothing was written


def test_expressions_over_4_kb_are_refused_as_on_aws_and_change_nothing(aws):
    import botocore.exceptions

    dynamodb = aws.client("dynamodb")
    _string_keyed_table(dynamodb, "limits", key="pk")
    _string_keyed_table(dynamodb, "log", key="pk")
    key = {"pk": {"S": "x"}}

    def adds(count: int) -> dict:  # long placeholders: moto's parser recurses once per action
        name = "#" + "a" * 40
        return {
            "UpdateExpression": "ADD " + ", ".join(f"{name}{i} :v{i}" for i in range(count)),
            "ExpressionAttributeNames": {f"{name}{i}": f"n{i}" for i in range(count)},
            "ExpressionAttributeValues": {f":v{i}": {"N": "1"} for i in range(count)},
        }

    # 82 actions make 4,082 bytes, which run; 83 make 4,132, which do not
    assert len(adds(82)["UpdateExpression"]) == 4082 and len(adds(83)["UpdateExpression"]) == 4132
    dynamodb.update_item(TableName="limits", Key=key, **adds(82))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        dynamodb.update_item(TableName="limits", Key=key, **adds(83))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert (
        "Expression size has exceeded the maximum allowed size" in raised.value.response["Error"]["Message"]
    )
    # Inside a transaction the whole request fails: the other item is not written either
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": "limits", "Key": key, **adds(83)}},
                {"Put": {"TableName": "log", "Item": {"pk": {"S": "i1"}}}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName="log", Key={"pk": {"S": "i1"}})
    assert dynamodb.get_item(TableName="limits", Key=key)["Item"]["n81"] == {"N": "1"}
