"""Echoes what the local API Gateway handed it, and which environment it ran in."""

import json
import os

import helper
import tinylayer


def lambda_handler(event, context):
    if event.get("queryStringParameters") and event["queryStringParameters"].get("fail") == "raise":
        raise RuntimeError("asked to fail")
    if event.get("queryStringParameters") and event["queryStringParameters"].get("fail") == "malformed":
        return {"statusCode": "not a number"}
    body = {
        "resource": event["resource"],
        "path": event["path"],
        "pathParameters": event["pathParameters"],
        "query": event["queryStringParameters"],
        "identity": event["requestContext"]["identity"],
        "table": os.environ.get("TABLE_NAME"),
        "function_name": context.function_name,
        "helper": helper.WHO,
        "layer_calls": tinylayer.count_call(),
    }
    return {
        "statusCode": 201 if event["httpMethod"] == "POST" else 200,
        "headers": {"Content-Type": "application/json", "X-Handler": "api"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(body),
    }
