"""The stack's own event bus: each catalog route is a rule delivering to its consumer's queue, which
retries and dead-letters on its own."""

from __future__ import annotations

from infra import constants
from infra.catalog import EVENT_ROUTES, FUNCTIONS, QueueTrigger

from .conftest import Resources, of_type, ref_of


def test_each_event_route_is_a_rule_on_the_stacks_bus_to_its_queue(
    resources: Resources, outputs: dict
) -> None:
    (bus_id,) = of_type(resources, "AWS::Events::EventBus")
    assert ref_of(outputs["MaterialEventsBusName"]) == bus_id
    for route in EVENT_ROUTES:
        queue_id = ref_of(outputs["".join(p.capitalize() for p in route.queue.split("_")) + "Url"])
        rules = [
            rule["Properties"]
            for rule in of_type(resources, "AWS::Events::Rule").values()
            if rule["Properties"].get("EventBusName") == {"Ref": bus_id}
            and any(t["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]} for t in rule["Properties"]["Targets"])
        ]
        # Then one rule matches exactly the route's source and detail types
        (rule,) = rules
        assert rule["EventPattern"] == {"source": [route.source], "detail-type": list(route.detail_types)}
        # And what the bus cannot deliver goes to the queue's dead-letter queue after retries
        (target,) = rule["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        dead_letters = resources[queue_id]["Properties"]["RedrivePolicy"]
        assert target["DeadLetterConfig"]["Arn"] == dead_letters["deadLetterTargetArn"]
        assert dead_letters["maxReceiveCount"] == constants.MAX_RECEIVE_COUNT


def test_the_tagging_queue_outlasts_its_consumers_timeout(resources: Resources, outputs: dict) -> None:
    queue = resources[ref_of(outputs["TaggingQueueUrl"])]["Properties"]
    consumers = [
        (spec, t)
        for spec in FUNCTIONS
        for t in spec.triggers
        if isinstance(t, QueueTrigger) and t.queue == "tagging_queue"
    ]
    assert [spec.name for spec, _ in consumers] == ["tagging"]
    spec, trigger = consumers[0]
    assert queue["VisibilityTimeout"] == (
        constants.VISIBILITY_TIMEOUT_PER_CONSUMER_TIMEOUT * spec.timeout_s + trigger.max_batching_window_s
    )
    assert queue["SqsManagedSseEnabled"] is True


def test_only_the_functions_the_catalog_allows_may_publish_on_the_bus(
    resources: Resources, function_ids: dict
) -> None:
    # Given the roles whose policies allow events:PutEvents
    publishing_roles = {
        role["Ref"]
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "events:PutEvents"
        in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        for role in policy["Properties"]["Roles"]
    }
    # Then they are exactly the roles of the functions whose catalog entry grants it
    declared = {
        spec.name for spec in FUNCTIONS if any("events:PutEvents" in access.actions for access in spec.access)
    }
    roles = {
        name: resources[ids[0]]["Properties"]["Role"]["Fn::GetAtt"][0] for name, ids in function_ids.items()
    }
    assert publishing_roles == {roles[name] for name in declared}
    assert declared == {"admission", "operator_api"}
