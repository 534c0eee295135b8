"""What the synthesized template wires: functions, their environment, and the triggers that call them.

The local runtime serves exactly this, so a route, queue mapping or schedule that the stack does not
declare cannot work locally either. Parsing is pure (no AWS); `resolve_environment` needs the deployed
stack's physical names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local_runtime.deployed_stack import DeployedStack
from local_runtime.intrinsics import SUB_VARIABLE, resolve

# Same keys as infra.constants (importing infra.constants would load aws_cdk).
FUNCTION_METADATA_KEY = "creative:function"
LAYER_METADATA_KEY = "creative:layer"

# CloudFormation's documented defaults for properties a template may leave out.
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
DEFAULT_SQS_BATCH_SIZE = 10


@dataclass(frozen=True)
class FunctionDecl:
    logical_id: str
    name: str  # the catalog name, from the function's `creative:function` metadata
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, Any]  # unresolved: intrinsics still in place
    # Names of its layers in order, from each LayerVersion's `creative:layer` metadata (e.g. creative, deps).
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueMapping:
    logical_id: str
    function_logical_id: str
    queue_logical_id: str
    batch_size: int
    batching_window_s: int
    reports_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class ScheduleRule:
    logical_id: str
    expression: str
    function_logical_id: str
    enabled: bool
    constant_input: str | None = None  # a target's `Input` replaces the scheduled event


@dataclass(frozen=True)
class ApiRoute:
    rest_api_logical_id: str
    method: str  # "GET", "POST", ... or "ANY"
    resource_path: str  # the resource template, e.g. "/v1/materials/{material_id}"
    authorization_type: str  # "NONE", "AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM"
    api_key_required: bool
    integration_type: str  # "AWS_PROXY", "MOCK", ...
    function_logical_id: str | None  # the Lambda an AWS_PROXY integration calls
    method_logical_id: str = ""
    mock_response: dict[str, Any] = field(default_factory=dict)  # a MOCK integration's first response
    # ("querystring" | "header" | "path", name) that a request validator makes API Gateway insist on
    required_parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RestApiDecl:
    logical_id: str
    stage_name: str
    binary_media_types: tuple[str, ...]


class StackTemplate:
    """Read-only views over one synthesized template."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})

    def _of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [(lid, res) for lid, res in self.resources.items() if res.get("Type") == resource_type]

    def functions(self) -> dict[str, FunctionDecl]:
        """The stack's own functions (those carrying catalog metadata), by logical id."""
        found = {}
        for logical_id, resource in self._of_type("AWS::Lambda::Function"):
            name = resource.get("Metadata", {}).get(FUNCTION_METADATA_KEY)
            if not name:
                continue  # CDK's helper functions (e.g. custom-resource providers) are not ours to serve
            props = resource.get("Properties", {})
            found[logical_id] = FunctionDecl(
                logical_id=logical_id,
                name=name,
                handler=props.get("Handler", "handler.lambda_handler"),
                memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
                timeout_s=int(props.get("Timeout", DEFAULT_TIMEOUT_S)),
                environment=props.get("Environment", {}).get("Variables", {}),
                layers=tuple(self._layer_name(value) for value in props.get("Layers", [])),
            )
        return found

    def _layer_name(self, value: Any) -> str:
        """A layer's `creative:layer` name; its logical id (or ARN) when it carries none."""
        logical_id = referenced_logical_id(value)
        layer = self.resources.get(logical_id or "", {})
        return layer.get("Metadata", {}).get(LAYER_METADATA_KEY) or str(logical_id or value)

    def queue_mappings(self) -> list[QueueMapping]:
        mappings = []
        for logical_id, resource in self._of_type("AWS::Lambda::EventSourceMapping"):
            props = resource["Properties"]
            queue = referenced_logical_id(props.get("EventSourceArn"))
            if queue is None or self.resources.get(queue, {}).get("Type") != "AWS::SQS::Queue":
                continue  # streams (Kinesis, DynamoDB) are not SQS pollers
            mappings.append(
                QueueMapping(
                    logical_id=logical_id,
                    function_logical_id=self._function_named_by(props["FunctionName"]),
                    queue_logical_id=queue,
                    batch_size=int(props.get("BatchSize", DEFAULT_SQS_BATCH_SIZE)),
                    batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                    reports_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    enabled=bool(props.get("Enabled", True)),
                )
            )
        return mappings

    def schedule_rules(self) -> list[ScheduleRule]:
        rules = []
        for logical_id, resource in self._of_type("AWS::Events::Rule"):
            props = resource["Properties"]
            if "ScheduleExpression" not in props:
                continue
            for target in props.get("Targets", []):
                function = referenced_logical_id(target.get("Arn"))
                if function not in self.resources or not self._is_function(function):
                    continue
                rules.append(
                    ScheduleRule(
                        logical_id=logical_id,
                        expression=props["ScheduleExpression"],
                        function_logical_id=function,
                        enabled=props.get("State", "ENABLED") == "ENABLED",
                        constant_input=target.get("Input"),
                    )
                )
        return rules

    def rest_apis(self) -> dict[str, RestApiDecl]:
        stages = {}
        for _, resource in self._of_type("AWS::ApiGateway::Stage"):
            props = resource["Properties"]
            stages[referenced_logical_id(props["RestApiId"])] = props["StageName"]
        for _, resource in self._of_type("AWS::ApiGateway::Deployment"):
            props = resource["Properties"]
            if "StageName" in props:  # a deployment may create its stage itself
                stages.setdefault(referenced_logical_id(props["RestApiId"]), props["StageName"])
        return {
            logical_id: RestApiDecl(
                logical_id=logical_id,
                stage_name=stages.get(logical_id, "prod"),
                binary_media_types=tuple(resource.get("Properties", {}).get("BinaryMediaTypes", [])),
            )
            for logical_id, resource in self._of_type("AWS::ApiGateway::RestApi")
        }

    def resource_paths(self) -> dict[str, str]:
        """Path of every API resource, by logical id, from its PathPart and ParentId chain."""
        paths: dict[str, str] = {}

        def path_of(logical_id: str) -> str:
            if logical_id not in paths:
                props = self.resources[logical_id]["Properties"]
                parent = _resource_parent(props["ParentId"])
                prefix = "" if parent is None else path_of(parent).rstrip("/")
                paths[logical_id] = f"{prefix}/{props['PathPart']}"
            return paths[logical_id]

        for logical_id, _ in self._of_type("AWS::ApiGateway::Resource"):
            path_of(logical_id)
        return paths

    def api_routes(self) -> list[ApiRoute]:
        paths = self.resource_paths()
        routes = []
        for logical_id, resource in self._of_type("AWS::ApiGateway::Method"):
            props = resource["Properties"]
            parent = _resource_parent(props["ResourceId"])
            integration = props.get("Integration", {})
            integration_type = integration.get("Type", "AWS_PROXY")
            routes.append(
                ApiRoute(
                    rest_api_logical_id=referenced_logical_id(props["RestApiId"]),
                    method=props["HttpMethod"].upper(),
                    resource_path="/" if parent is None else paths[parent],
                    authorization_type=props.get("AuthorizationType", "NONE"),
                    api_key_required=bool(props.get("ApiKeyRequired", False)),
                    integration_type=integration_type,
                    function_logical_id=self._lambda_in(integration.get("Uri")),
                    method_logical_id=logical_id,
                    mock_response=(integration.get("IntegrationResponses") or [{}])[0]
                    if integration_type == "MOCK"
                    else {},
                    required_parameters=self._required_parameters(props),
                )
            )
        return routes

    def _required_parameters(self, method_props: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        validator = self.resources.get(
            referenced_logical_id(method_props.get("RequestValidatorId")) or "", {}
        )
        if not validator.get("Properties", {}).get("ValidateRequestParameters"):
            return ()
        required = []
        for name, is_required in method_props.get("RequestParameters", {}).items():
            # "method.request.querystring.page_size": true
            _, _, location, parameter = name.split(".", 3)
            if is_required in (True, "true"):
                required.append((location, parameter))
        return tuple(required)

    def _is_function(self, logical_id: str) -> bool:
        return self.resources.get(logical_id, {}).get("Type") == "AWS::Lambda::Function"

    def _function_named_by(self, value: Any) -> str:
        logical_id = referenced_logical_id(value)
        if logical_id is None or not self._is_function(logical_id):
            raise ValueError(f"cannot tell which function {value!r} names")
        return logical_id

    def _lambda_in(self, value: Any) -> str | None:
        """The function an integration URI's Fn::Join/Fn::Sub refers to, if any, directly or through one of
        its aliases (a SnapStart function is invoked through its `live` alias; locally every alias runs the
        function's current code)."""
        for logical_id in _all_referenced_logical_ids(value):
            if self._is_function(logical_id):
                return logical_id
            if self.resources.get(logical_id, {}).get("Type") == "AWS::Lambda::Alias":
                return self._function_named_by(self.resources[logical_id]["Properties"]["FunctionName"])
        return None


def _resource_parent(value: Any) -> str | None:
    """The parent resource's logical id, or None when it is the API's root (Fn::GetAtt Api.RootResourceId)."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return None
    return referenced_logical_id(value)


def referenced_logical_id(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names directly."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((name, argument),) = value.items()
    if name == "Ref":
        return argument
    if name == "Fn::GetAtt":
        return argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
    return None


def _all_referenced_logical_ids(value: Any) -> list[str]:
    direct = referenced_logical_id(value)
    if direct is not None:
        return [direct]
    if isinstance(value, dict) and "Fn::Sub" in value:
        return sub_names(value["Fn::Sub"])
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [found for child in children for found in _all_referenced_logical_ids(child)]


def sub_names(argument: Any) -> list[str]:
    """The logical ids an Fn::Sub's text names (`${Name}`, `${Name.Attribute}`; `${!Literal}` names none)."""
    text = argument if isinstance(argument, str) else argument[0]
    return [name.split(".", 1)[0] for name in SUB_VARIABLE.findall(text)]


def resolve_environment(function: FunctionDecl, stack: DeployedStack) -> dict[str, str]:
    """The function's environment variables with every Ref/GetAtt/Join/Sub replaced by physical names."""
    return {name: str(value) for name, value in resolve(function.environment, stack).items()}
