"""LocalRuntime: the whole stack on one machine, composed from moto, the template and the handlers.

    with LocalRuntime() as local:
        requests.post(local.api_url + "v1/select", headers={"x-api-key": local.api_key}, json={...})
        local.fire_schedule("compose_creatives")
        local.drain_queues()

One runtime per process at a time: moto keeps its state per process (stop() resets it).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from stack_build import model_staging

from infra import catalog
from infra.console_policy import LOCAL_CONSOLE_PATH
from infra.paths import CDK_OUT_DIR, CONSOLE_DIR
from local_runtime.api_events import HttpRequest, HttpResponse
from local_runtime.api_gateway import ApiKeys, RestApi
from local_runtime.api_routes import RouteTable
from local_runtime.api_server import ApiServer
from local_runtime.console_site import ConsoleSite
from local_runtime.deploy import deploy
from local_runtime.deployed_stack import DeployedStack
from local_runtime.functions import FunctionError, LocalFunction, lambda_environment
from local_runtime.intrinsics import get_att
from local_runtime.layers import catalog_layer_dirs
from local_runtime.moto_server import MotoEndpoint, MotoServer
from local_runtime.queues import QueuePoller, QueueSource
from local_runtime.schedules import PeriodicFiring, Schedule
from local_runtime.template import StackTemplate, resolve_environment

log = logging.getLogger(__name__)

DEFAULT_ASSEMBLY_DIR = CDK_OUT_DIR


def catalog_code_dir(function_name: str) -> Path:
    return catalog.function_by_name(function_name).code_dir


class LocalRuntime:
    def __init__(
        self,
        *,
        assembly_dir: Path = DEFAULT_ASSEMBLY_DIR,
        stack_name: str = catalog.STACK_NAME,
        api_port: int = 0,
        moto_port: int = 0,
        periodic_schedules: bool = False,
        operator_key: str | None = None,
        code_dir_for: Callable[[str], Path] = catalog_code_dir,
        layer_dirs_for: Callable[[str], list[Path]] = catalog_layer_dirs,
        layer_dirs: tuple[Path, ...] = (),
        log_dir: Path | None = None,
        console_dir: Path | None = CONSOLE_DIR,
    ) -> None:
        self._assembly_dir = Path(assembly_dir)
        self._stack_name = stack_name
        self._api_port = api_port
        self._periodic = periodic_schedules
        self._code_dir_for = code_dir_for
        # Each function gets the directories of the layers the template gives it, then `layer_dirs`.
        self._layer_dirs_for = layer_dirs_for
        self._layer_dirs = list(layer_dirs)
        self._log_dir = Path(log_dir) if log_dir else None
        self._console_dir = console_dir  # None: no console (stacks without the operator API)
        self.operator_key = operator_key or secrets.token_urlsafe(24)
        self._moto = MotoServer(moto_port)
        self.endpoint: MotoEndpoint | None = None
        self.stack: DeployedStack | None = None
        self.functions: dict[str, LocalFunction] = {}  # by catalog name
        self.schedules: dict[str, Schedule] = {}  # by function name
        self.pollers: list[QueuePoller] = []
        self._api_server: ApiServer | None = None
        self._periodic_firing: PeriodicFiring | None = None
        self._api_key: str | None = None

    # Lifecycle

    def start(self) -> LocalRuntime:
        self.endpoint = self._moto.start()
        try:
            self.stack = deploy(self.endpoint, self._assembly_dir, self._stack_name)
            if self._stack_name == catalog.STACK_NAME:
                model_staging.notice_if_not_built()  # the stack then deploys no models to say so
            template = StackTemplate(self.stack.template)
            by_logical_id = self._functions(template)
            self.functions = {f.name: f for f in by_logical_id.values()}
            self.schedules = self._schedules(template, by_logical_id)
            self.pollers = self._pollers(template, by_logical_id)
            self._api_server = self._api(template, by_logical_id)
        except Exception:
            self._moto.stop()
            raise
        for poller in self.pollers:
            poller.start()
        if self._api_server is not None:
            self._api_server.start()
        if self._periodic:
            self._periodic_firing = PeriodicFiring(list(self.schedules.values()))
            self._periodic_firing.start()
        log.info("local runtime up: api %s, moto %s", self.api_url, self.endpoint_url)
        return self

    def stop(self) -> None:
        if self._periodic_firing is not None:
            self._periodic_firing.stop()
        for poller in self.pollers:
            poller.stop()
        if self._api_server is not None:
            self._api_server.stop()
        for function in self.functions.values():
            function.close_log()
        self._moto.stop()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # What a user or a test needs

    @property
    def endpoint_url(self) -> str:
        return self._require(self.endpoint).url

    @property
    def api_url(self) -> str:
        """The API stage's base URL, ending in "/" like the stack's ApiUrl output: ".../prod/"."""
        return self._require(self._api_server).url

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self._require(self._api_server).port}{ApiServer.ADMIN_PREFIX}/"

    @property
    def console_url(self) -> str:
        """The operator console, on the API's origin (sign in with `operator_key`)."""
        return f"http://127.0.0.1:{self._require(self._api_server).port}{LOCAL_CONSOLE_PATH}"

    @property
    def api_key(self) -> str:
        """The value of an API key a usage plan grants for the stage (the stack's own key)."""
        if self._api_key is None:
            server = self._require(self._api_server)
            self._api_key = _granted_key_value(self.client("apigateway"), server.api.api_id, server.api.stage)
        return self._api_key

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self._require(self.stack).outputs)

    def client(self, service: str) -> Any:
        return self._require(self.endpoint).client(service)

    def invoke(self, function_name: str, event: Any) -> Any:
        return self.functions[function_name].invoke(event)

    def intercept_aws(self, middleware: Callable[[Any], Any]) -> None:
        """Every AWS call, the handlers' and the runtime's, passes through `middleware` (a WSGI wrapper of
        moto's app) from now on: how the reliability runs answer some of them with throttling or 5xx."""
        self._moto.intercept(middleware)

    def fire_schedule(self, function_name: str) -> Any:
        if function_name not in self.schedules:
            raise KeyError(f"{function_name} has no schedule rule; scheduled: {sorted(self.schedules)}")
        return self.schedules[function_name].fire()

    def drain_queues(self, timeout: float = 60.0) -> None:
        """Wait until every mapped queue is empty and no handler is busy (retries waiting out their
        visibility timeout do not count); TimeoutError if that takes longer than `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not all(poller.is_idle() for poller in self.pollers):
            if time.monotonic() > deadline:
                busy = [p.function.name for p in self.pollers if not p.is_idle()]
                raise TimeoutError(f"queues of {busy} still busy after {timeout}s")
            time.sleep(0.05)

    # Assembly

    def _functions(self, template: StackTemplate) -> dict[str, LocalFunction]:
        stack, endpoint = self._require(self.stack), self._require(self.endpoint)
        functions = {}
        for logical_id, declared in template.functions().items():
            code_dir = self._code_dir_for(declared.name)
            physical_name = stack.physical_id(logical_id)
            functions[logical_id] = LocalFunction(
                name=declared.name,
                physical_name=physical_name,
                arn=get_att(logical_id, "Arn", stack),
                code_dir=code_dir,
                handler=declared.handler,
                memory_mb=declared.memory_mb,
                timeout_s=declared.timeout_s,
                environment=lambda_environment(
                    function_variables=resolve_environment(declared, stack),
                    physical_name=physical_name,
                    memory_mb=declared.memory_mb,
                    code_dir=code_dir,
                    handler=declared.handler,
                    endpoint_url=endpoint.url,
                    region=endpoint.region,
                ),
                layer_dirs=[
                    *(path for layer in declared.layers for path in self._layer_dirs_for(layer)),
                    *self._layer_dirs,
                ],
                log_path=self._log_dir / f"{declared.name}.log" if self._log_dir else None,
            )
        return functions

    def _schedules(self, template: StackTemplate, functions: dict[str, LocalFunction]) -> dict[str, Schedule]:
        stack = self._require(self.stack)
        return {
            functions[rule.function_logical_id].name: Schedule(
                function=functions[rule.function_logical_id],
                rule_arn=get_att(rule.logical_id, "Arn", stack),
                expression=rule.expression,
                account_id=stack.account_id,
                region=stack.region,
                enabled=rule.enabled,
                constant_input=rule.constant_input,
            )
            for rule in template.schedule_rules()
            if rule.function_logical_id in functions
        }

    def _pollers(self, template: StackTemplate, functions: dict[str, LocalFunction]) -> list[QueuePoller]:
        stack, sqs = self._require(self.stack), self.client("sqs")
        pollers = []
        for mapping in template.queue_mappings():
            if not mapping.enabled or mapping.function_logical_id not in functions:
                continue
            url = stack.physical_id(mapping.queue_logical_id)
            visibility = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            source = QueueSource(
                url=url,
                arn=get_att(mapping.queue_logical_id, "Arn", stack),
                region=stack.region,
                visibility_timeout_s=int(visibility["Attributes"]["VisibilityTimeout"]),
            )
            pollers.append(
                QueuePoller(
                    functions[mapping.function_logical_id],
                    source,
                    sqs,
                    batch_size=mapping.batch_size,
                    batching_window_s=mapping.batching_window_s,
                    reports_batch_item_failures=mapping.reports_batch_item_failures,
                )
            )
        return pollers

    def _api(self, template: StackTemplate, functions: dict[str, LocalFunction]) -> ApiServer | None:
        stack = self._require(self.stack)
        apis = template.rest_apis()
        if not apis:
            return None
        if len(apis) > 1:
            log.warning("serving only the first of %d REST APIs", len(apis))
        declared = next(iter(apis.values()))
        api_id = stack.physical_id(declared.logical_id)
        routes = [r for r in template.api_routes() if r.rest_api_logical_id == declared.logical_id]
        apigateway = self.client("apigateway")
        if any(r.api_key_required for r in routes):
            _ensure_api_key(apigateway, api_id, declared.stage_name, self._stack_name)
        api = RestApi(
            api_id=api_id,
            account_id=stack.account_id,
            stage=declared.stage_name,
            routes=RouteTable(routes),
            functions=functions,
            resource_ids={
                r["path"]: r["id"] for r in apigateway.get_resources(restApiId=api_id, limit=500)["items"]
            },
            api_keys=ApiKeys(apigateway, api_id, declared.stage_name),
            operator_key=self.operator_key,
            binary_media_types=declared.binary_media_types,
        )
        console = None
        if self._console_dir is not None and self._console_dir.is_dir():
            console = ConsoleSite(
                self._console_dir,
                {"api_base": f"/{declared.stage_name}/", "auth": {"mode": "key"}},
                aws_endpoint=self._require(self.endpoint).url,
            )
        return ApiServer(api, admin=self._admin, port=self._api_port, console=console)

    def _admin(self, request: HttpRequest) -> HttpResponse:
        """POST /_local/schedules/<function> fires a schedule; GET /_local/status tells what is served."""
        if (
            dict((k.lower(), v) for k, v in request.headers).get("authorization")
            != f"Bearer {self.operator_key}"
        ):
            return HttpResponse.json(HTTPStatus.FORBIDDEN, {"message": "operator key required"})
        parts = [p for p in request.path.split("/") if p][1:]
        if request.method == "POST" and len(parts) == 2 and parts[0] == "schedules":
            try:
                result = self.fire_schedule(parts[1])
            except KeyError as error:
                return HttpResponse.json(HTTPStatus.NOT_FOUND, {"message": error.args[0]})
            except FunctionError as error:
                return HttpResponse.json(
                    HTTPStatus.BAD_GATEWAY,
                    {"errorType": error.error_type, "errorMessage": error.error_message},
                )
            return HttpResponse.json(HTTPStatus.OK, {"function": parts[1], "result": result})
        if request.method == "GET" and parts == ["status"]:
            return HttpResponse.json(HTTPStatus.OK, self.status())
        return HttpResponse.json(HTTPStatus.NOT_FOUND, {"message": "unknown admin route"})

    def status(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "endpoint_url": self.endpoint_url,
            "functions": {
                f.name: {"physical_name": f.physical_name, "invocations": f.invocations, "errors": f.errors}
                for f in self.functions.values()
            },
            "schedules": {name: s.expression for name, s in self.schedules.items()},
            "queues": {p.function.name: {"queue": p.source.arn, "batches": p.batches} for p in self.pollers},
        }

    @staticmethod
    def _require(value: Any) -> Any:
        if value is None:
            raise RuntimeError("the local runtime is not started")
        return value


def _granted_key_value(apigateway: Any, api_id: str, stage: str) -> str:
    for plan in apigateway.get_usage_plans()["items"]:
        if {"apiId": api_id, "stage": stage} in [
            {"apiId": s["apiId"], "stage": s["stage"]} for s in plan.get("apiStages", [])
        ]:
            for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]:
                return apigateway.get_api_key(apiKey=key["id"], includeValue=True)["value"]
    raise LookupError(f"no API key is granted for {api_id}/{stage}")


def _ensure_api_key(apigateway: Any, api_id: str, stage: str, stack_name: str) -> None:
    """The template requires keys but declares none a plan grants for this stage: make one, as a user would."""
    try:
        _granted_key_value(apigateway, api_id, stage)
        return
    except LookupError:
        pass
    log.warning("no API key granted for %s/%s in the stack; creating a local one", api_id, stage)
    key = apigateway.create_api_key(name=f"{stack_name}-local", enabled=True)
    plan = apigateway.create_usage_plan(
        name=f"{stack_name}-local", apiStages=[{"apiId": api_id, "stage": stage}]
    )
    apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")


def write_session(path: Path, runtime: LocalRuntime) -> None:
    """Where a running `creative local up` can be reached, for `creative local fire` and scripts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "api_url": runtime.api_url,
                "console_url": runtime.console_url,
                "admin_url": runtime.admin_url,
                "endpoint_url": runtime.endpoint_url,
                "api_key": runtime.api_key,
                "operator_key": runtime.operator_key,
                "outputs": runtime.outputs,
            },
            indent=2,
        )
    )
    path.chmod(0o600)
