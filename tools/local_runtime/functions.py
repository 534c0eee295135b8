"""The stack's Lambda functions, run in this process the way the Lambda service would run them.

Several functions share one Python process here, where on AWS each has its own. Three things keep them
apart: one invocation at a time (INVOCATION_LOCK); os.environ set to exactly that function's variables
for the duration of its call; and a ModuleSandbox, so each function imports its own copy of its code and
of the layer's `creative` package (module-level caches such as `creative.wiring`'s stay per function,
as they would per container).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

log = logging.getLogger(__name__)

# One invocation at a time: os.environ and sys.modules belong to the whole process.
INVOCATION_LOCK = threading.RLock()
PYTHON_RUNTIME = "python3.13"  # the runtime the stack declares (infra.constants); AWS_EXECUTION_ENV only
# Module globals that hold per-process state in libraries every function shares here (they are too
# entangled with compiled dependencies to import twice): each function keeps its own value.
# (module, attribute, the value a fresh process starts with)
PER_FUNCTION_GLOBALS = (
    ("aws_lambda_powertools.logging.logger", "is_cold_start", True),
    ("aws_lambda_powertools.tracing.tracer", "is_cold_start", True),
    ("aws_lambda_powertools.metrics.provider.cold_start", "is_cold_start", True),
    ("aws_lambda_powertools.metrics.base", "is_cold_start", True),
)
# Variables the Lambda service sets or the local runtime owns; the developer's shell must not leak in.
_HOST_PREFIXES_TO_DROP = ("AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_")


class FunctionError(Exception):
    """The handler raised, timed out, or returned something Lambda could not serialise."""

    def __init__(self, function_name: str, error_type: str, message: str, stack_trace: str = "") -> None:
        super().__init__(f"{function_name}: {error_type}: {message}")
        self.function_name = function_name
        self.error_type = error_type
        self.error_message = message
        self.stack_trace = stack_trace


@dataclass
class LambdaContext:
    """The fields and method of the Lambda context object handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = (
            self.log_stream_name or f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        )

    def get_remaining_time_in_millis(self) -> int:
        elapsed_ms = int((time.monotonic() - self._started) * 1000)
        return max(self.timeout_s * 1000 - elapsed_ms, 0)


class ModuleSandbox:
    """A function's private copies of the modules that live under its code and layer directories.

    While active, those directories lead sys.path and only this function's copies are in sys.modules;
    afterwards its copies are put away and whatever was there before comes back.
    """

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [root.resolve() for root in roots]
        self._modules: dict[str, ModuleType] = {}
        self._globals: dict[tuple[str, str], Any] = {}  # PER_FUNCTION_GLOBALS, as this function left them
        # Resolving every module's path on every invocation cost ~70% of a warm select; a file's owner
        # never changes, so each location is resolved once.
        self._owned_locations: dict[str, bool] = {}

    def owns(self, module: ModuleType | None) -> bool:
        location = getattr(module, "__file__", None)
        if not location:
            return False
        owned = self._owned_locations.get(location)
        if owned is None:
            path = Path(location).resolve()
            owned = self._owned_locations[location] = any(path.is_relative_to(root) for root in self.roots)
        return owned

    @contextmanager
    def active(self) -> Iterator[None]:
        saved_path = list(sys.path)
        displaced = {name: module for name, module in list(sys.modules.items()) if self.owns(module)}
        for name in displaced:
            del sys.modules[name]
        sys.modules.update(self._modules)
        sys.path[:0] = [str(root) for root in self.roots]
        outer_globals = self._swap_globals_in()
        try:
            yield
        finally:
            self._swap_globals_out(outer_globals)
            self._modules = {name: module for name, module in list(sys.modules.items()) if self.owns(module)}
            for name in self._modules:
                del sys.modules[name]
            sys.modules.update(displaced)
            sys.path[:] = saved_path

    def _swap_globals_in(self) -> dict[tuple[str, str], Any]:
        outer = {}
        for module_name, attribute, fresh in PER_FUNCTION_GLOBALS:
            module = sys.modules.get(module_name)
            if module is not None and hasattr(module, attribute):
                outer[(module_name, attribute)] = getattr(module, attribute)
                setattr(module, attribute, self._globals.get((module_name, attribute), fresh))
        return outer

    def _swap_globals_out(self, outer: dict[tuple[str, str], Any]) -> None:
        for module_name, attribute, _ in PER_FUNCTION_GLOBALS:
            module = sys.modules.get(module_name)
            if module is None or not hasattr(module, attribute):
                continue
            self._globals[(module_name, attribute)] = getattr(module, attribute)
            if (module_name, attribute) in outer:
                setattr(module, attribute, outer[(module_name, attribute)])


@dataclass
class LocalFunction:
    name: str  # catalog name
    physical_name: str  # the FunctionName CloudFormation gave it
    arn: str
    code_dir: Path
    handler: str  # "module.function", relative to code_dir
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]  # the function's resolved variables plus the local runtime's
    layer_dirs: list[Path] = field(default_factory=list)
    # Where the function's stdout goes (its CloudWatch log group, locally); None keeps the console.
    log_path: Path | None = None
    invocations: int = 0
    errors: int = 0

    def __post_init__(self) -> None:
        self._sandbox = ModuleSandbox([self.code_dir, *self.layer_dirs])
        self._entry_point: Any = None
        self._log: TextIO | None = None
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a", buffering=1)  # loggers bound at cold start keep this file

    def close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def invoke(self, event: Any) -> Any:
        """Run the handler once on a JSON copy of `event`; return its JSON-round-tripped result."""
        payload = json.loads(json.dumps(event))
        log_target = redirect_stdout(self._log) if self._log else nullcontext()
        log_handlers = _service_logs_to(self._log) if self._log else nullcontext()
        with (
            INVOCATION_LOCK,
            _environment(self.environment),
            self._sandbox.active(),
            log_target,
            log_handlers,
        ):
            context = LambdaContext(
                function_name=self.physical_name,
                memory_limit_in_mb=self.memory_mb,
                invoked_function_arn=self.arn,
                aws_request_id=str(uuid.uuid4()),
                timeout_s=self.timeout_s,
            )
            self.invocations += 1
            try:
                result = self._run(payload, context)
            except FunctionError:
                self.errors += 1
                raise
        return result

    def _run(self, payload: Any, context: LambdaContext) -> Any:
        try:
            handler = self._load()
            # Lambda's timeout covers the handler, not the init phase (imports at a cold start), which has
            # its own limit: counting the cold start here failed a select that took 1 s once imported.
            started = time.monotonic()
            result = handler(payload, context)
        except Exception as error:  # the Lambda runtime reports any exception as the invocation's error
            log.error("%s %s failed:\n%s", self.name, context.aws_request_id, traceback.format_exc())
            raise FunctionError(
                self.name, type(error).__name__, str(error), traceback.format_exc()
            ) from error
        elapsed = time.monotonic() - started
        if elapsed > self.timeout_s:
            # Lambda would have stopped it; here it ran to the end, so its result is thrown away instead.
            log.error("%s %s Task timed out after %.2f seconds", self.name, context.aws_request_id, elapsed)
            raise FunctionError(self.name, "Sandbox.Timedout", f"Task timed out after {elapsed:.2f} seconds")
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as error:
            raise FunctionError(
                self.name, "Runtime.MarshalError", f"Unable to marshal response: {error}"
            ) from error

    def _load(self) -> Any:
        """Import the handler module on the first call: the function's cold start."""
        if self._entry_point is None:
            module_path, function_name = self.handler.rsplit(".", 1)
            source = self.code_dir / (module_path.replace(".", "/") + ".py")
            unique_name = f"creative_local_functions.{self.name}.{module_path}"
            spec = importlib.util.spec_from_file_location(unique_name, source)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {source}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique_name] = (
                module  # inside the sandbox: it is put away with the function's modules
            )
            spec.loader.exec_module(module)
            self._entry_point = getattr(module, function_name)
        return self._entry_point


def lambda_environment(
    *,
    function_variables: dict[str, str],
    physical_name: str,
    memory_mb: int,
    code_dir: Path,
    handler: str,
    endpoint_url: str,
    region: str,
) -> dict[str, str]:
    """What a Lambda's process sees: the runtime's variables, then the function's own, then moto's endpoint.

    The endpoint and the fake credentials come last so no function variable can point boto3 at AWS.
    """
    defaults = {
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        "POWERTOOLS_DEV": "false",
        # moto on a busy laptop is far slower than DynamoDB: API functions wait up to 10 s per call here
        # instead of failing with 503 after 1 s (creative.wiring.api_client).
        "CREATIVE_LOCAL_READ_TIMEOUT_S": "10",
    }
    runtime = {
        "AWS_LAMBDA_FUNCTION_NAME": physical_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{physical_name}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{PYTHON_RUNTIME}",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": handler,
    }
    local_aws = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    return {**defaults, **runtime, **function_variables, **local_aws}


@contextmanager
def _service_logs_to(stream: TextIO) -> Iterator[None]:
    """Powertools' Logger reuses the handler of the first Logger of its service in the process (functions
    share the service name and the `logging` module), so that handler's stream is whichever stdout was
    current then: point it at this function's log for the invocation."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
    handlers = [h for h in logging.getLogger(service).handlers if isinstance(h, logging.StreamHandler)]
    previous = [_point(h, stream) for h in handlers]
    try:
        yield
    finally:
        for handler, stream_before in zip(handlers, previous, strict=True):
            if stream_before is not None:
                _point(handler, stream_before)


def _point(handler: logging.StreamHandler, stream: TextIO) -> TextIO | None:
    """handler.setStream, except that a stream already closed (the log file of a runtime stopped earlier
    in this process) is replaced without the flush that would raise on it."""
    if getattr(handler.stream, "closed", False):
        previous, handler.stream = handler.stream, stream
        return previous
    return handler.setStream(stream)


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    host = {k: v for k, v in saved.items() if not k.startswith(_HOST_PREFIXES_TO_DROP)}
    os.environ.clear()
    os.environ.update({**host, **variables})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
