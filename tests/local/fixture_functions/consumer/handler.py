"""Fails the records whose body says "fail", raises on "boom", and records what it saw in the table."""

import json
import os

import boto3
import helper
import tinylayer


def lambda_handler(event, context):
    bodies = [record["body"] for record in event["Records"]]
    if any("boom" in body for body in bodies):
        raise RuntimeError("boom")
    table = boto3.client("dynamodb")
    for record in event["Records"]:
        table.put_item(
            TableName=os.environ["TABLE_NAME"],
            Item={
                "pk": {"S": record["messageId"]},
                "body": {"S": record["body"]},
                "receive_count": {"N": record["attributes"]["ApproximateReceiveCount"]},
                "helper": {"S": helper.WHO},
                "layer_calls": {"N": str(tinylayer.count_call())},
            },
        )
    failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]
    return {"batchItemFailures": failures, "seen": json.dumps(len(bodies))}
