"""The whole bundle on 127.0.0.1, wired from template.yaml as AWS would wire it (no Docker).

    stack = LocalBundle.start(time_scale=60, schedule_interval=2)   # threads, free ports
    stack.api_url, stack.emulator.url, stack.moto_url, stack.dev_token("acct-demo")
    stack.wiring()                                                  # what is wired to what
    stack.stop()

``python -m local.runner`` does the same in the foreground, prints the URLs and a development
token, and stops everything on Ctrl-C.

What runs, all read from template.yaml (``local.template`` + ``local.aws``):
- moto with every resource the template declares (``local.aws.provision``);
- the QBO emulator; its app gets the front door's callback as redirect URI and the front door's
  webhook route as webhook URL; the Intuit app secret holds the emulator app's id/secret/verifier;
- the front door (``local.front_door``): every ``HttpApi`` event, JWT-checked with development
  tokens (``local.devtoken``) unless ``Auth: Authorizer: NONE``;
- an event-source poller per ``SQS`` event (``local.sqs_pollers``);
- a timer per ``Schedule`` event (``local.schedules``);
- EventBridge rules: moto delivers matching events to SQS targets itself; the runner checks the
  targets are in place and reports any target kind it cannot deliver;
- Step Functions: moto interprets the ASL and its Lambda tasks run our handlers
  (``local.stepfunctions``).

Functions run in this process, each handler imported as its own module from its own folder with
the layer on ``sys.path`` (``local.stepfunctions.LocalFunction``), with a fresh Lambda-like
context (the function's timeout as remaining time) per invocation. One process means one
environment: the variables of all functions are merged, and :func:`merged_environment` refuses to
start if two functions want different values for the same variable. Local-only values:
``INTUIT_ENVIRONMENT`` (the emulator's discovery URL) and ``QBO_API_BASE_URL`` (the emulator);
``OAuthRedirectUri``/``UiReturnUrl`` are template parameters pointing at the front door.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient

from local import ui_static
from local.aws import (
    LOCAL_CREDENTIALS,
    LocalMotoServer,
    LocalResources,
    provision,
    start_moto,
    use_local_aws,
)
from local.devtoken import make_token, template_issuer_and_audiences
from local.front_door import FrontDoor, JwtAuthorizer, Route
from local.identity import ACCOUNT_ID, REGION
from local.qbo_emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_VERIFIER_TOKEN,
    EmulatorServer,
)
from local.schedules import ScheduleSpec, ScheduleTimer
from local.sqs_pollers import SqsMapping, SqsPoller
from local.stepfunctions import LocalFunction, LocalStepFunctions, enable
from local.template import FUNCTION_TYPE, REPO_ROOT, TemplateError, functions, load_template, resources

log = logging.getLogger(__name__)

CALLBACK_PATH = "/integrations/quickbooks/callback"
WEBHOOK_PATH = "/webhooks/intuit"
DEFAULT_API_PORT = 3000
DEFAULT_EMULATOR_PORT = 8765
DEFAULT_SQS_CONCURRENCY = 2
SUPPORTED_FUNCTION_EVENTS = ("HttpApi", "SQS", "Schedule")


class FunctionCodeMissing(RuntimeError):
    """The template names a function whose handler file does not exist (yet)."""


class WiringError(RuntimeError):
    """The template asks for something the local stack cannot run, or two functions disagree."""


# ---------------------------------------------------------------------------- environment
def merged_environment(per_function: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """All functions' variables in one environment; a variable with two different values is an error."""
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for function_id, variables in per_function.items():
        for name, value in variables.items():
            if name in merged and merged[name] != value:
                raise WiringError(
                    f"{owners[name]} and {function_id} need different values for {name} "
                    f"({merged[name]!r} vs {value!r}); the local stack runs all functions in one process"
                )
            merged[name] = value
            owners.setdefault(name, function_id)
    return merged


def put_layers_on_path(template: Mapping[str, Any]) -> list[str]:
    """Make every layer's content importable, as Lambda does with ``/opt/python``."""
    added: list[str] = []
    for function_props in functions(template).values():
        for layer in function_props.get("Layers") or []:
            layer_id = layer.get("Ref") if isinstance(layer, Mapping) else None
            resource = template["Resources"].get(layer_id or "")
            if resource is None or resource["Type"] != "AWS::Serverless::LayerVersion":
                continue  # a layer from outside the template (e.g. Powertools' public ARN): installed locally
            content = str((REPO_ROOT / resource["Properties"]["ContentUri"]).resolve())
            if content not in sys.path:
                sys.path.insert(0, content)
                added.append(content)
    return added


def clear_layer_caches() -> None:
    """Forget the AWS clients and settings the layer cached for its "container" (the environment changed).

    Every ``functools.lru_cache`` of a ``kyrios_qbo`` module is a per-container cache of this kind
    (settings, boto3 clients), so all are cleared; module globals holding a boto3 client (the
    ``global _client`` pattern) are reset to None so they are created again against the new endpoint.
    """
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "kyrios_qbo" or name.startswith("kyrios_qbo.")):
            continue
        for attribute, value in list(vars(module).items()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()
            elif isinstance(value, BaseClient):
                setattr(module, attribute, None)


# ---------------------------------------------------------------------------- reading the template
def http_routes(template: Mapping[str, Any]) -> list[Route]:
    """Every ``HttpApi`` event of every function."""
    api_auth: dict[str, Any] = {}
    for resource in resources(template, "AWS::Serverless::HttpApi").values():
        api_auth = resource.get("Properties", {}).get("Auth", {})
    default_authorized = bool(api_auth.get("DefaultAuthorizer"))
    routes: list[Route] = []
    for function_id, props in functions(template).items():
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            event_props = event.get("Properties", {})
            authorizer = (event_props.get("Auth") or {}).get("Authorizer")
            authorized = default_authorized if authorizer is None else authorizer != "NONE"
            routes.append(
                Route(
                    method=str(event_props.get("Method", "ANY"))
                    .upper()
                    .replace("X-AMAZON-APIGATEWAY-ANY-METHOD", "ANY"),
                    path=str(event_props.get("Path", "/$default")),
                    function_id=function_id,
                    authorized=authorized,
                    event_name=event_name,
                )
            )
    return routes


def unsupported_function_events(template: Mapping[str, Any]) -> list[str]:
    """``Function.Event`` names whose type the local stack does not run."""
    return [
        f"{function_id}.{event_name} ({event.get('Type')})"
        for function_id, props in functions(template).items()
        for event_name, event in (props.get("Events") or {}).items()
        if event.get("Type") not in SUPPORTED_FUNCTION_EVENTS
    ]


# ---------------------------------------------------------------------------- the stack
INVOCATION_LOG_SIZE = 2000


@dataclass
class Invocation:
    """One handler call made by the stack (front door, poller, schedule or ``invoke``)."""

    function_id: str
    event: dict[str, Any]
    started: float
    result: Any = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class LocalBundle:
    """Handle on the bundle running locally (not the LocalStack product: moto, the emulator and our own
    runner); see the module docstring."""

    template: dict[str, Any]
    moto: LocalMotoServer
    emulator: EmulatorServer
    front_door: FrontDoor
    resources: LocalResources
    step_functions: LocalStepFunctions
    functions: dict[str, LocalFunction]
    pollers: list[SqsPoller] = field(default_factory=list)
    schedules: list[ScheduleTimer] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    invocations: deque[Invocation] = field(default_factory=lambda: deque(maxlen=INVOCATION_LOG_SIZE))
    _invocations_lock: threading.Lock = field(default_factory=threading.Lock)
    _saved_environ: dict[str, str] = field(default_factory=dict)
    _stopped: bool = False

    # -- lifecycle
    @classmethod
    def start(
        cls,
        *,
        stage: str = "local",
        time_scale: float = 1.0,
        schedule_interval: float | None = None,
        sqs_time_scale: float | None = None,
        step_wait_scale: float = 0.01,
        rate_limits: bool = True,
        api_port: int = 0,
        emulator_port: int = 0,
        sqs_concurrency: int = DEFAULT_SQS_CONCURRENCY,
        parameters: Mapping[str, Any] | None = None,
        template_path: Path | str | None = None,
        emulator_seed: str = "minimal",
        webhook_window_seconds: float | None = None,
    ) -> LocalBundle:
        """Start everything in background threads and return once it serves.

        ``time_scale``: emulator seconds per real second (token lifetimes, webhook batching, rate
        windows). ``schedule_interval``: seconds between schedule firings (default: the template's
        rate). ``sqs_time_scale``: factor on a queue's visibility timeout before a failed message
        is retried (default ``1 / time_scale``, at most 1). ``stage`` names the stack's resources:
        two stacks in one process need different stages. ``webhook_window_seconds``: the emulator's
        webhook aggregation window in emulator seconds (default: the emulator's 60 s, as a production
        app; tests, the demo and the bench shorten it).
        """
        template = load_template(template_path) if template_path else load_template()
        problems = unsupported_function_events(template)
        if problems:
            raise WiringError(f"the local stack cannot run these function events: {problems}")
        put_layers_on_path(template)
        saved = dict(os.environ)
        moto = start_moto()
        emulator: EmulatorServer | None = None
        front: FrontDoor | None = None
        try:
            use_local_aws(moto.endpoint_url)
            # No X-Ray daemon on a laptop; metrics still go to stdout as EMF when logs are on.
            os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
            webhook_config: dict[str, Any] = (
                {} if webhook_window_seconds is None
                else {"webhook_batch_window_seconds": webhook_window_seconds}
            )
            emulator = EmulatorServer.start(
                port=emulator_port,
                time_scale=time_scale,
                rate_limits=rate_limits,
                # companies start nearly empty: tests and the bench count the records and calls
                # their own work makes ("sandbox" = what a fresh Intuit sandbox company holds)
                default_seed=emulator_seed,
                **webhook_config,
            )
            issuer, audiences = template_issuer_and_audiences(template)
            front = FrontDoor(
                routes=http_routes(template),
                invoke=lambda function_id, event: stack.invoke(function_id, event),
                authorizer=JwtAuthorizer(issuer, audiences),
                port=api_port,
                mounts={ui_static.MOUNT_PATH: ui_static.app},
            )
            try:
                front.bind()
            except OSError:
                if api_port == 0:
                    raise
                log.warning("port %s is taken; the front door takes a free one", api_port)
                front.port = 0
                front.bind()
            params = {
                "OAuthRedirectUri": front.url + CALLBACK_PATH,
                "UiReturnUrl": front.url + ui_static.MOUNT_PATH + "/",
                # One secret per stage: moto keeps state per process, and stacks of tests share it.
                "IntuitAppSecretName": f"kyrios/quickbooks/{stage}/intuit-app",
                **(parameters or {}),
            }
            res = provision(
                template,
                moto.endpoint_url,
                stage,
                secret_value={
                    "client_id": DEFAULT_CLIENT_ID,
                    "client_secret": DEFAULT_CLIENT_SECRET,
                    "webhook_verifier_token": DEFAULT_VERIFIER_TOKEN,
                },
                parameters=params,
            )
            per_function = {fid: res.function_environment(fid) for fid in res.function_logical_ids()}
            local_only = {
                "INTUIT_ENVIRONMENT": emulator.discovery_url,
                "QBO_API_BASE_URL": emulator.api_base,
                # The emulator's rate limits run on its clock: space our budget on the same clock.
                "QBO_RATE_TIME_SCALE": repr(min(1.0, 1.0 / time_scale)),
            }
            environment = {**merged_environment(per_function), **local_only}
            os.environ.update(environment)
            clear_layer_caches()
            _point_emulator_app_at(emulator, front.url)
            sfn = enable(res, overrides=local_only, wait_scale=step_wait_scale)
            stack = cls(
                template=template,
                moto=moto,
                emulator=emulator,
                front_door=front,
                resources=res,
                step_functions=sfn,
                functions=dict(sfn.functions),
                environment=environment,
                _saved_environ=saved,
            )
            stack._wire_queues(
                sqs_time_scale if sqs_time_scale is not None else min(1.0, 1.0 / time_scale), sqs_concurrency
            )
            stack._wire_schedules(schedule_interval)
            stack._check_rules()
            front.start()
            for poller in stack.pollers:
                poller.start()
            for timer in stack.schedules:
                timer.start()
            return stack
        except BaseException:
            if front is not None:
                front.stop()
            if emulator is not None:
                emulator.stop()
            moto.stop()
            os.environ.clear()
            os.environ.update(saved)
            clear_layer_caches()
            raise

    def stop(self) -> None:
        """Stop everything this stack started and give the process its environment back."""
        if self._stopped:
            return
        self._stopped = True
        for timer in self.schedules:
            timer.stop()
        for poller in self.pollers:
            poller.stop()
        self.front_door.stop()
        self.emulator.stop()
        self.moto.stop()
        os.environ.clear()
        os.environ.update(self._saved_environ)
        clear_layer_caches()

    def __enter__(self) -> LocalBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- wiring
    def _wire_queues(self, sqs_time_scale: float, concurrency: int) -> None:
        sqs = self.client("sqs")
        queue_ids_by_arn = {queue.arn: logical_id for logical_id, queue in self.resources.queues.items()}
        resolver = self.resources.resolver()
        for function_id, props in functions(self.template).items():
            for event_name, event in (props.get("Events") or {}).items():
                if event.get("Type") != "SQS":
                    continue
                event_props = resolver.resolve(event.get("Properties", {}))
                queue_arn = str(event_props["Queue"])
                queue_id = queue_ids_by_arn.get(queue_arn)
                if queue_id is None:
                    raise WiringError(f"{function_id}.{event_name}: queue {queue_arn} was not provisioned")
                queue = self.resources.queues[queue_id]
                visibility = int(
                    sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["VisibilityTimeout"])[
                        "Attributes"
                    ]["VisibilityTimeout"]
                )
                max_concurrency = (event_props.get("ScalingConfig") or {}).get("MaximumConcurrency")
                mapping = SqsMapping(
                    function_id=function_id,
                    event_name=event_name,
                    queue_id=queue_id,
                    queue_url=queue.url,
                    queue_arn=queue.arn,
                    batch_size=int(event_props.get("BatchSize", 10)),
                    batching_window_seconds=float(event_props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (event_props.get("FunctionResponseTypes") or []),
                    concurrency=min(concurrency, int(max_concurrency or concurrency)),
                    visibility_timeout=visibility,
                )
                self.pollers.append(SqsPoller(mapping, self.invoke, sqs, time_scale=sqs_time_scale))

    def _wire_schedules(self, interval: float | None) -> None:
        resolver = self.resources.resolver()
        for function_id, props in functions(self.template).items():
            for event_name, event in (props.get("Events") or {}).items():
                if event.get("Type") != "Schedule":
                    continue
                event_props = resolver.resolve(event.get("Properties", {}))
                spec = ScheduleSpec(
                    function_id=function_id,
                    event_name=event_name,
                    expression=str(event_props["Schedule"]),
                    input_json=event_props.get("Input"),
                    enabled=bool(event_props.get("Enabled", True)),
                )
                rule_name = f"{self.resources.stack_name}-{function_id}{event_name}"
                rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"
                self.schedules.append(
                    ScheduleTimer(
                        spec,
                        self.invoke,
                        interval=interval,
                        region=REGION,
                        account_id=ACCOUNT_ID,
                        rule_arn=rule_arn,
                    )
                )

    def _check_rules(self) -> None:
        """Confirm every rule's targets are on moto, and that each target is one moto delivers to."""
        events = self.client("events")
        queue_ids_by_arn = {queue.arn: logical_id for logical_id, queue in self.resources.queues.items()}
        for rule_id, rule in resources(self.template, "AWS::Events::Rule").items():
            physical = self.resources.physical.get(rule_id)
            if physical is None:
                continue  # a Condition left it out
            props = self.resources.resolver().resolve(rule.get("Properties", {}))
            bus = props.get("EventBusName", "default")
            on_moto = {
                target["Id"]: target["Arn"]
                for target in events.list_targets_by_rule(Rule=str(physical.ref), EventBusName=bus)["Targets"]
            }
            for target in props.get("Targets", []):
                arn = on_moto.get(target["Id"])
                if arn is None:
                    raise WiringError(f"rule {rule_id}: target {target['Id']} is missing on the local bus")
                if arn not in queue_ids_by_arn:
                    raise WiringError(
                        f"rule {rule_id}: target {target['Id']} ({arn}) is not an SQS queue; "
                        "only SQS targets are delivered locally"
                    )
                self.rules.append(
                    {
                        "rule": rule_id,
                        "target": target["Id"],
                        "queue": queue_ids_by_arn[arn],
                        "bus": bus,
                        "pattern": props.get("EventPattern"),
                    }
                )

    def wiring(self) -> list[dict[str, Any]]:
        """What the running stack wired: a row per function, route, queue mapping, schedule, rule, machine."""
        rows: list[dict[str, Any]] = []
        for function_id, props in functions(self.template).items():
            rows.append(
                {
                    "kind": "function",
                    "key": function_id,
                    "code": function_id in self.functions,
                    "timeout": props.get("Timeout"),
                }
            )
        for route in self.front_door.routes:
            rows.append(
                {
                    "kind": "route",
                    "key": route.route_key,
                    "function": route.function_id,
                    "auth": "jwt" if route.authorized else "none",
                }
            )
        for poller in self.pollers:
            m = poller.mapping
            rows.append(
                {
                    "kind": "sqs",
                    "key": f"{m.queue_id}->{m.function_id}",
                    "batch_size": m.batch_size,
                    "window_s": m.batching_window_seconds,
                    "partial_failures": m.report_batch_item_failures,
                    "concurrency": m.concurrency,
                    "retry_after_s": poller.failure_visibility,
                }
            )
        for timer in self.schedules:
            rows.append(
                {
                    "kind": "schedule",
                    "key": f"{timer.spec.function_id}.{timer.spec.event_name}",
                    "expression": timer.spec.expression,
                    "every_s": timer.interval,
                }
            )
        for rule in self.rules:
            rows.append(
                {
                    "kind": "rule",
                    "key": f"{rule['rule']}->{rule['queue']}",
                    "bus": rule["bus"],
                    "delivered_by": "moto",
                }
            )
        for machine_id, resource in resources(self.template, "AWS::Serverless::StateMachine").items():
            substitutions = resource.get("Properties", {}).get("DefinitionSubstitutions", {})
            tasks = sorted(
                target
                for value in substitutions.values()
                for target in _function_refs(value)
                if target in self.step_functions.functions
            )
            rows.append(
                {
                    "kind": "state_machine",
                    "key": machine_id,
                    "tasks": tasks,
                    "arn": self.step_functions.state_machine_arn(machine_id),
                }
            )
        return rows

    # -- using it
    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """Run a function's handler with ``event``, as its trigger would; the call is logged."""
        function = self.functions.get(function_id)
        if function is None:
            if function_id in resources(self.template, FUNCTION_TYPE):
                raise FunctionCodeMissing(f"{function_id}: its handler file does not exist yet")
            raise KeyError(f"no function {function_id} in the template")
        started = time.monotonic()
        record = Invocation(function_id, event, started=started)
        try:
            record.result = function.invoke(event)
            return record.result
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            record.seconds = time.monotonic() - started
            with self._invocations_lock:
                self.invocations.append(record)

    def invocations_of(self, function_id: str) -> list[Invocation]:
        with self._invocations_lock:
            return [call for call in self.invocations if call.function_id == function_id]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.moto.endpoint_url,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def dev_token(self, account_id: str, ttl_seconds: int = 12 * 3600) -> str:
        issuer, audiences = template_issuer_and_audiences(self.template)
        return make_token(account_id, issuer=issuer, audience=audiences[0], ttl_seconds=ttl_seconds)

    def poller(self, function_id: str) -> SqsPoller:
        return next(poller for poller in self.pollers if poller.mapping.function_id == function_id)

    def schedule(self, function_id: str) -> ScheduleTimer:
        return next(timer for timer in self.schedules if timer.spec.function_id == function_id)

    def queue_depth(self, queue_id: str) -> int:
        """Visible + in-flight messages of a template queue."""
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.resources.queues[queue_id].url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def wait_idle(self, timeout: float = 30.0, settle: float = 0.3) -> bool:
        """True once every polled queue is empty and no poller is busy (for ``settle`` seconds)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            idle = not any(p.busy for p in self.pollers) and all(
                self.queue_depth(p.mapping.queue_id) == 0 for p in self.pollers
            )
            if idle:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False

    @property
    def api_url(self) -> str:
        return self.front_door.url

    @property
    def moto_url(self) -> str:
        return self.moto.endpoint_url

    @property
    def consent_url(self) -> str:
        return f"{self.emulator.url}/connect/oauth2"

    def describe(self) -> dict[str, Any]:
        return {
            "api": self.api_url,
            "callback": self.api_url + CALLBACK_PATH,
            "webhook": self.api_url + WEBHOOK_PATH,
            "qbo_emulator": self.emulator.url,
            "consent_page": self.consent_url,
            "moto": self.moto_url,
            "event_bus": self.resources.event_bus_name,
            "tables": self.resources.tables,
        }


def _function_refs(value: Any) -> set[str]:
    from local.template import references

    return references(value)


def _point_emulator_app_at(emulator: EmulatorServer, front_door_url: str) -> None:
    """The emulator's app redirects to our callback and sends webhooks to our webhook route."""
    control = emulator.control
    app = next((a for a in control.apps() if a["client_id"] == DEFAULT_CLIENT_ID), None)
    redirect_uris = list(app["redirect_uris"]) if app else []
    callback = front_door_url + CALLBACK_PATH
    if callback not in redirect_uris:
        redirect_uris.append(callback)
    control.register_app(
        DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        redirect_uris=redirect_uris,
        webhook_url=front_door_url + WEBHOOK_PATH,
        verifier_token=DEFAULT_VERIFIER_TOKEN,
    )


def print_wiring(stack: LocalBundle, out: Any = None) -> None:
    stream = out or sys.stdout
    for row in stack.wiring():
        details = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("kind", "key"))
        print(f"  {row['kind']:<14} {row['key']:<55} {details}", file=stream)


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the bundle locally, wired from template.yaml.")
    parser.add_argument("--stage", default="local")
    parser.add_argument(
        "--api-port", type=int, default=int(os.environ.get("LOCAL_API_PORT", DEFAULT_API_PORT))
    )
    parser.add_argument(
        "--emulator-port", type=int, default=int(os.environ.get("QBO_EMULATOR_PORT", DEFAULT_EMULATOR_PORT))
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=float(os.environ.get("LOCAL_TIME_SCALE", "1")),
        help="emulator seconds per real second",
    )
    parser.add_argument(
        "--schedule-interval",
        type=float,
        default=float(os.environ["LOCAL_SCHEDULE_INTERVAL"])
        if os.environ.get("LOCAL_SCHEDULE_INTERVAL")
        else None,
        help="seconds between schedule firings (default: the template's rate)",
    )
    parser.add_argument(
        "--webhook-window", type=float, default=None,
        help="webhook aggregation window, emulator seconds (default 60, as a production app)",
    )
    parser.add_argument("--account", default="acct-demo", help="account id of the printed dev token")
    parser.add_argument("--log-level", default="INFO", help="LogLevel template parameter")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    stack = LocalBundle.start(
        stage=args.stage,
        time_scale=args.time_scale,
        schedule_interval=args.schedule_interval,
        api_port=args.api_port,
        emulator_port=args.emulator_port,
        parameters={"LogLevel": args.log_level},
        webhook_window_seconds=args.webhook_window,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = stack.describe()
        print("Kyrios ⇄ QuickBooks local stack is running (Ctrl-C stops it)\n")
        for name in ("api", "callback", "webhook", "qbo_emulator", "consent_page", "moto", "event_bus"):
            print(f"  {name:<13} {info[name]}")
        print(
            f"\n  dev token for {args.account} (Authorization: Bearer ...):\n"
            f"  {stack.dev_token(args.account)}"
        )
        print(
            f"\n  export AWS_ENDPOINT_URL={stack.moto_url} AWS_ACCESS_KEY_ID=testing "
            "AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"
        )
        print(f"  curl -H 'Authorization: Bearer <token>' {stack.api_url}/integrations/quickbooks\n")
        print("Wiring (from template.yaml):")
        print_wiring(stack)
        print(
            json.dumps(
                {
                    "functions_without_code": [
                        fid for fid in functions(stack.template) if fid not in stack.functions
                    ]
                }
            ),
            flush=True,
        )
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        print("local stack stopped.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (WiringError, TemplateError) as exc:
        print(f"cannot start the local stack: {exc}", file=sys.stderr)
        sys.exit(2)
