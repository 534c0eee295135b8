"""Returns the event it was fired with and the environment it ran in."""

import os


def lambda_handler(event, context):
    return {
        "event": event,
        "env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("AWS_", "POWERTOOLS_", "QUEUE", "TABLE", "BUCKET", "JOINED", "SUBBED"))
        },
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
    }
