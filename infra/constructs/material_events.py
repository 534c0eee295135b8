"""The stack's own event bus: what one capability tells the others (admission -> tagging, for now).

Each route of the catalog (EVENT_ROUTES) is a rule on the bus delivering to a consumer's queue; a queue
per consumer, so each batches, retries and dead-letters on its own, and a consumer that is down loses
nothing (the events wait in its queue).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.catalog import EVENT_ROUTES, Resource
from infra.constructs.queues import consumed_queue

# EventBridge retries a failed delivery for up to 24 h; these many attempts fill that window.
DELIVERY_RETRY_ATTEMPTS = 185


class MaterialEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", description="Creative Engine: material lifecycle events.")
        self.buses: dict[Resource, events.IEventBus] = {"material_events_bus": self.bus}
        self.queues: dict[Resource, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for route in EVENT_ROUTES:
            construct_id = "".join(part.capitalize() for part in route.queue.split("_"))
            queue, dead_letters = consumed_queue(Construct(self, construct_id), "Queue", route.queue)
            self.queues[route.queue] = queue
            self.dead_letter_queues[construct_id] = dead_letters
            events.Rule(
                self,
                f"{construct_id}Rule",
                description=f"{', '.join(route.detail_types)} from {route.source} to the {route.queue}.",
                event_bus=self.buses[route.bus],
                event_pattern=events.EventPattern(
                    source=[route.source], detail_type=list(route.detail_types)
                ),
                # What the bus cannot deliver to the queue lands in the queue's own dead-letter queue
                # instead of vanishing after EventBridge's retries.
                targets=[
                    targets.SqsQueue(
                        queue, dead_letter_queue=dead_letters, retry_attempts=DELIVERY_RETRY_ATTEMPTS
                    )
                ],
            )
