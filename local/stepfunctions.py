"""Run the real state machines of template.yaml locally: moto executes the ASL, our handlers do the tasks.

moto's Step Functions interprets ASL when its config says ``stepfunctions.execute_state_machine``; a
``arn:aws:states:::lambda:invoke`` task then calls Lambda ``Invoke`` on the moto server, which (with
``lambda.use_docker: false``) lands in moto's simple Lambda backend. :func:`enable` switches both on
through ``POST /moto-api/config`` and replaces the simple backend's ``invoke`` so that a registered
function runs in this process: ``functions/<dir>/app.py`` is imported (once), the function's
environment from the template is applied, and ``lambda_handler(event, context)`` is called. An
exception becomes what Lambda answers for an unhandled error (``FunctionError: Unhandled`` and
``{"errorType", "errorMessage", "stackTrace"}``), so the ASL's ``Retry``/``Catch`` match on the
exception's class name exactly as in AWS.

    local_sfn = enable(resources, overrides={"QBO_API_BASE_URL": emulator.api_base}, wait_scale=0.01)
    arn = local_sfn.start("ImportStateMachine", name="import-123", payload={...})
    local_sfn.wait(arn)                          # -> describe_execution answer once it stopped

The moto server must run in this process (``local.aws.start_moto``). ``wait_scale`` shrinks the
waits of ``Retry`` back-offs (moto sleeps them for real) so tests stay fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

from local.aws import LOCAL_CREDENTIALS, LocalResources
from local.identity import ACCOUNT_ID, REGION
from local.lambda_context import LocalLambdaContext
from local.template import REPO_ROOT, functions

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


# ---------------------------------------------------------------------------- in-process functions
@dataclass
class LocalFunction:
    """One template function, runnable in this process."""

    logical_id: str
    physical_name: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    _module: ModuleType | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def module(self) -> ModuleType:
        """The handler module, imported once from the function's own folder (as Lambda would)."""
        with self._lock:
            if self._module is None:
                module_file, _, _ = self.handler.rpartition(".")
                path = self.code_dir / f"{module_file.replace('.', '/')}.py"
                # The function folder is the Lambda task root: its siblings import as top-level modules.
                if str(self.code_dir) not in sys.path:
                    sys.path.insert(0, str(self.code_dir))
                name = f"_local_lambda_{self.logical_id}_{module_file.replace('.', '_')}"
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise FileNotFoundError(f"{self.logical_id}: no handler module at {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
                self._module = module
            return self._module

    def invoke(self, event: Any) -> Any:
        """Call the handler with this function's environment and a fresh context."""
        _apply_environment(self.environment)
        handler_name = self.handler.rpartition(".")[2]
        handler: Callable[[Any, Any], Any] = getattr(self.module(), handler_name)
        context = LocalLambdaContext(self.physical_name, self.timeout_seconds, self.memory_mb)
        return handler(event, context)


_env_lock = threading.Lock()


def _apply_environment(environment: Mapping[str, str]) -> None:
    """Make the function's variables visible; drop cached settings when one changed.

    Tests run every function in one process with the union of their environments, so this is
    normally a no-op; it matters when a function's variables differ from the test's.
    """
    with _env_lock:
        changed = {k: v for k, v in environment.items() if os.environ.get(k) != v}
        if not changed:
            return
        os.environ.update(changed)
    try:
        from kyrios_qbo.config import get_settings
    except ImportError:  # a function without the layer
        return
    get_settings.cache_clear()


_registry: dict[str, LocalFunction] = {}
_registry_lock = threading.Lock()
_original_invoke = LambdaSimpleBackend.invoke


def lambda_error_payload(exc: BaseException) -> bytes:
    """What the Python runtime returns for an unhandled exception (``errorType`` is the class name)."""
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "requestId": str(uuid.uuid4()),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    ).encode()


def _dispatching_invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    """LambdaSimpleBackend.invoke for registered functions; moto's echo for anything else."""
    name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
    with _registry_lock:
        target = _registry.get(name)
    if target is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    raw = body.decode() if isinstance(body, bytes) else body
    event = json.loads(raw) if raw else {}
    try:
        result = target.invoke(event)
    except Exception as exc:
        response_headers["x-amz-function-error"] = "Unhandled"
        return lambda_error_payload(exc)
    return json.dumps(result, default=str).encode()


# ---------------------------------------------------------------------------- scaled retry waits
class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: ``sleep`` is scaled, the rest is real."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds * self.scale))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# ---------------------------------------------------------------------------- StopExecution
_original_set_error = Environment.set_error


def _set_error_unless_stopped(self: Environment, error: Any) -> None:
    """In AWS a stopped execution stays ABORTED; moto let a task that was still running when
    StopExecution came (and then failed) turn it into FAILED."""
    if isinstance(self._program_state, ProgramStopped):
        return
    _original_set_error(self, error)


# ---------------------------------------------------------------------------- the switch
@dataclass
class LocalStepFunctions:
    """Handle on the local Step Functions of one provisioned stack."""

    resources: LocalResources
    functions: dict[str, LocalFunction]

    def client(self) -> Any:
        return boto3.client(
            "stepfunctions",
            region_name=REGION,
            endpoint_url=self.resources.endpoint_url,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def state_machine_arn(self, logical_id: str) -> str:
        return str(self.resources.physical[logical_id].ref)

    def start(self, logical_id: str, *, name: str, payload: Mapping[str, Any]) -> str:
        """Start a named execution (names make starts idempotent, as our code relies on)."""
        answer = self.client().start_execution(
            stateMachineArn=self.state_machine_arn(logical_id), name=name, input=json.dumps(payload)
        )
        return str(answer["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60.0, poll: float = 0.05) -> dict[str, Any]:
        """``describe_execution`` once the execution stopped; TimeoutError if it is still running."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL:
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still {described['status']} after {timeout}s")
            time.sleep(poll)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        client = self.client()
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = client.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


def enable(
    resources: LocalResources,
    *,
    overrides: Mapping[str, str] | None = None,
    wait_scale: float = 1.0,
) -> LocalStepFunctions:
    """Make moto execute the stack's state machines and run its functions in this process.

    ``overrides`` are environment variables added to every function's own (e.g. the emulator's
    ``QBO_API_BASE_URL`` and discovery URL). Call after :func:`local.aws.provision`; calling again
    (another test module) re-registers the functions with the new values.
    """
    endpoint = resources.endpoint_url
    answer = requests.post(f"{endpoint}/moto-api/config", json=MOTO_CONFIG, timeout=10)
    answer.raise_for_status()
    # The interpreter calls Lambda at http://localhost:<MOTO_PORT>; point it at our server.
    port = urlsplit(endpoint).port
    if port is None:
        raise ValueError(f"endpoint {endpoint} has no port")
    os.environ["MOTO_PORT"] = str(port)
    retrier_decl.time = _ScaledTime(wait_scale)  # type: ignore[attr-defined,assignment]
    LambdaSimpleBackend.invoke = _dispatching_invoke  # type: ignore[method-assign]
    Environment.set_error = _set_error_unless_stopped  # type: ignore[method-assign]

    local_functions = _local_functions(resources, dict(overrides or {}))
    with _registry_lock:
        for function in local_functions.values():
            _registry[function.physical_name] = function
    handle = LocalStepFunctions(resources, local_functions)
    _ensure_state_machines(handle)
    return handle


def _local_functions(resources: LocalResources, overrides: dict[str, str]) -> dict[str, LocalFunction]:
    found: dict[str, LocalFunction] = {}
    for logical_id, props in functions(resources.template).items():
        code_dir = (REPO_ROOT / str(props.get("CodeUri", ""))).resolve()
        handler = str(props.get("Handler", "app.lambda_handler"))
        module_file = handler.rpartition(".")[0].replace(".", "/")
        if not (code_dir / f"{module_file}.py").exists():
            continue  # not written yet: moto's echo answers for it
        physical = resources.physical.get(logical_id)
        if physical is None:
            continue
        found[logical_id] = LocalFunction(
            logical_id=logical_id,
            physical_name=str(physical.ref),
            code_dir=code_dir,
            handler=handler,
            timeout_seconds=float(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            environment={**resources.function_environment(logical_id), **overrides},
        )
    return found


def _ensure_state_machines(handle: LocalStepFunctions) -> None:
    """Re-create state machines that were provisioned before execution was switched on.

    moto keeps executing and non-executing Step Functions in separate backends: a machine created
    before :func:`enable` is unknown to the executing one. Same name, same definition, same ARN.
    """
    resources = handle.resources
    client = handle.client()
    resolver = resources.resolver()
    for logical_id, resource in resources.template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::StateMachine" or logical_id not in resources.physical:
            continue
        arn = handle.state_machine_arn(logical_id)
        try:
            client.describe_state_machine(stateMachineArn=arn)
            continue
        except client.exceptions.StateMachineDoesNotExist:
            pass
        props = resolver.resolve(resource.get("Properties", {}))
        definition = (REPO_ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = str(resources.physical[logical_id].attributes.get("Name") or arn.rsplit(":", 1)[-1])
        client.create_state_machine(
            name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        )


__all__ = ["LocalFunction", "LocalLambdaContext", "LocalStepFunctions", "enable", "lambda_error_payload"]
