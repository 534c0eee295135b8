"""The Creative Engine stack: shared resources, then every catalog function wired to its triggers."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from infra.catalog import FUNCTIONS, SERVICE_NAME, ApiRoute, FunctionSpec, QueueTrigger, ScheduleTrigger
from infra.constructs.api import CreativeApi
from infra.constructs.console import Console
from infra.constructs.function import CatalogFunction, SharedResources
from infra.constructs.layers import Layers
from infra.constructs.material_events import MaterialEvents
from infra.constructs.model_deployment import ModelArtifacts
from infra.constructs.monitoring import Monitoring
from infra.constructs.queues import subscribe
from infra.constructs.schedules import Schedules
from infra.constructs.storage import Storage
from infra.constructs.uploads import UploadEvents


def pascal_case(snake_name: str) -> str:
    return "".join(part.capitalize() for part in snake_name.split("_"))


class CreativeEngineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Creative Engine: material admission, creative composition and racing, feedback.",
            tags={"service": SERVICE_NAME},
            **kwargs,
        )
        self.storage = Storage(self, "Storage")
        self.upload_events = UploadEvents(self, "UploadEvents", uploads_bucket=self.storage.uploads_bucket)
        self.material_events = MaterialEvents(self, "MaterialEvents")
        self.layers = Layers(self, "Layers")
        self.models = ModelArtifacts(self, "Models", assets_bucket=self.storage.assets_bucket)
        self.api = CreativeApi(self, "Api")
        self.console = Console(
            self,
            "Console",
            rest_api=self.api.rest_api,
            uploads_bucket=self.storage.uploads_bucket,
            bucket_props=self.storage.private_bucket_props("console-site/"),
        )
        self.api.operator_authorizer = self.console.authorizer
        self.schedules = Schedules(self, "Schedules")
        self.resources = SharedResources(
            buckets=self.storage.buckets,
            tables=self.storage.tables,
            queues={**self.upload_events.queues, **self.material_events.queues},
            buses=self.material_events.buses,
        )

        self.functions: dict[str, CatalogFunction] = {}
        for spec in FUNCTIONS:
            self.functions[spec.name] = self._add_function(spec)

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions={pascal_case(name): fn.function for name, fn in self.functions.items()},
            dead_letter_queues={
                "UploadEvents": self.upload_events.dead_letter_queue,
                "ScheduledInvocations": self.schedules.dead_letter_queue,
                **self.material_events.dead_letter_queues,
            },
            rest_api=self.api.rest_api,
        )
        self._add_outputs()

    def _capability(self, name: str) -> Construct:
        """The construct grouping a capability's functions, e.g. RacingApi/Select/Function."""
        construct_id = pascal_case(name)
        return self.node.try_find_child(construct_id) or Construct(self, construct_id)

    def _add_function(self, spec: FunctionSpec) -> CatalogFunction:
        # Asynchronously invoked (scheduled) functions dead-letter their failed runs.
        invoked_on_schedule = any(isinstance(trigger, ScheduleTrigger) for trigger in spec.triggers)
        catalog_function = CatalogFunction(
            self._capability(spec.capability),
            pascal_case(spec.name),
            spec,
            resources=self.resources,
            layers=self.layers,
            dead_letter_queue=self.schedules.dead_letter_queue if invoked_on_schedule else None,
        )
        function = catalog_function.function
        schedules = [trigger for trigger in spec.triggers if isinstance(trigger, ScheduleTrigger)]
        if schedules:  # one invoke configuration per function: the most cautious of its schedules
            function.configure_async_invoke(
                retry_attempts=min(t.retries for t in schedules),
                max_event_age=Duration.seconds(min(t.max_event_age_s for t in schedules)),
            )
        for index, trigger in enumerate(spec.triggers):
            match trigger:
                case ApiRoute():
                    self.api.add_route(catalog_function.invoked, trigger)
                case QueueTrigger():
                    subscribe(function, self.resources.queues[trigger.queue], trigger)
                case ScheduleTrigger():
                    self.schedules.add(f"{pascal_case(spec.name)}Schedule{index}", function, trigger)
                case _:
                    raise TypeError(
                        f"{spec.name}: no construct wires triggers of type {type(trigger).__name__}"
                    )
        return catalog_function

    def _add_outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the prod stage.")
        CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id, description="Id of the racing API key.")
        for client, key in self.api.client_keys.items():
            CfnOutput(
                self,
                f"ApiKeyId{client.title().replace('-', '')}",
                value=key.key_id,
                description=f"Id of the {client} client's racing API key.",
            )
        for resource, bucket in self.storage.buckets.items():
            CfnOutput(self, f"{pascal_case(resource)}Name", value=bucket.bucket_name)
        for resource, stored in self.storage.tables.items():
            CfnOutput(self, f"{pascal_case(resource)}Name", value=stored.table.table_name)
        for resource, queue in self.resources.queues.items():
            CfnOutput(self, f"{pascal_case(resource)}Url", value=queue.queue_url)
        CfnOutput(self, "UploadEventsDlqUrl", value=self.upload_events.dead_letter_queue.queue_url)
        for name, queue in self.material_events.dead_letter_queues.items():
            CfnOutput(self, f"{name}DlqUrl", value=queue.queue_url)
        for resource, bus in self.resources.buses.items():
            CfnOutput(self, f"{pascal_case(resource)}Name", value=bus.event_bus_name)
        CfnOutput(self, "ScheduledInvocationsDlqUrl", value=self.schedules.dead_letter_queue.queue_url)
        CfnOutput(self, "ConsoleUrl", value=self.console.url, description="The operator console.")
        CfnOutput(self, "OperatorUserPoolId", value=self.console.user_pool.user_pool_id)
        CfnOutput(self, "ConsoleClientId", value=self.console.client.user_pool_client_id)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.alarm_topic.topic_arn)
