"""Which AWS actions each local function used, on which resources, and whether its catalog entry grants them.

moto enforces no IAM, so a grant missing from `infra.catalog` (a new BatchGetItem, a transaction's
UpdateItem) would first fail on AWS, as AccessDenied in a deployed function. The recorder notes every
AWS call a function makes while the local runtime runs it; `ungranted` lists those its `Access` entries
do not cover (action, resource, and key prefix for bucket objects).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from infra.catalog import FUNCTIONS, OBJECT_READ
from local_runtime.functions import LocalFunction

# IAM actions of the S3 operations functions use; GetObject's grant also covers HEAD.
_S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
}
_TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


@dataclass(frozen=True)
class Call:
    function: str  # catalog name
    action: str  # IAM action
    resource: str | None  # physical name (table, bucket, bus, queue)
    key: str | None = None  # object key, for bucket objects


def actions(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(IAM action, physical resource, object key) of one API call."""
    if service == "dynamodb":
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table, None) for table in params.get("RequestItems", {})]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            found = []
            for entry in params.get("TransactItems", []):
                ((kind, body),) = entry.items()
                found.append((_TRANSACTION_ACTIONS[kind], body.get("TableName"), None))
            return found
        return [(f"dynamodb:{operation}", params.get("TableName"), None)]
    if service == "s3":
        action = _S3_ACTIONS.get(operation, f"s3:{operation}")
        if action == "s3:GetObject" and params.get("VersionId"):
            action = "s3:GetObjectVersion"
        return [(action, params.get("Bucket"), params.get("Key"))]
    if service == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in params.get("Entries", [])}
        return [("events:PutEvents", bus.rsplit("/", 1)[-1], None) for bus in buses]
    if service == "sqs" and "QueueUrl" in params:
        return [(f"sqs:{operation}", params["QueueUrl"].rsplit("/", 1)[-1], None)]
    return [(f"{service}:{operation}", None, None)]


class AccessRecorder:
    """Patches the runtime's function runs and botocore's calls while installed (one runtime at a time)."""

    def __init__(self) -> None:
        self.calls: set[Call] = set()
        self.environments: dict[str, dict[str, str]] = {}  # function -> its environment variables
        self._running = threading.local()  # the function this thread is running, if any
        self._originals: tuple[Any, Any] | None = None

    def install(self) -> AccessRecorder:
        run, make_api_call = LocalFunction._run, BaseClient._make_api_call
        recorder = self

        def recorded_run(function: LocalFunction, payload: Any, context: Any) -> Any:
            recorder.environments[function.name] = dict(function.environment)
            recorder._running.name = function.name
            try:
                return run(function, payload, context)
            finally:
                recorder._running.name = None

        def recorded_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            name = getattr(recorder._running, "name", None)
            if name is not None:
                service = client.meta.service_model.service_name
                for action, resource, key in actions(service, operation, params):
                    recorder.calls.add(Call(name, action, resource, key))
            return make_api_call(client, operation, params)

        self._originals = (run, make_api_call)
        LocalFunction._run = recorded_run
        BaseClient._make_api_call = recorded_call
        return self

    def uninstall(self) -> None:
        if self._originals:
            LocalFunction._run, BaseClient._make_api_call = self._originals
            self._originals = None

    def ungranted(self) -> list[Call]:
        """The calls no `Access` of the function's catalog entry grants."""
        specs = {spec.name: spec for spec in FUNCTIONS}
        # Physical name -> catalog resource, from the environments of every function that ran: a function
        # may reach a resource it has no variable for (admission reads the bucket its event names).
        resources: dict[str, set[str]] = {}
        for name, environment in self.environments.items():
            for variable, resource in specs[name].resource_env.items():
                if variable in environment:
                    resources.setdefault(environment[variable].rsplit("/", 1)[-1], set()).add(resource)
        return sorted(
            (
                call
                for call in self.calls
                if not self._granted(call, specs[call.function], resources.get(call.resource or "", set()))
            ),
            key=lambda call: (call.function, call.action, call.resource or "", call.key or ""),
        )

    @staticmethod
    def _granted(call: Call, spec: Any, resources: set[str]) -> bool:
        for access in spec.access:
            if access.resource not in resources or call.action not in access.actions:
                continue
            object_action = call.action in (*OBJECT_READ, "s3:PutObject", "s3:DeleteObject")
            if not object_action or access.prefix is None or (call.key or "").startswith(access.prefix):
                return True
        return False
