"""Local AWS for tests and ``make demo``: a moto server on 127.0.0.1, provisioned from template.yaml.

    server = start_moto()                      # free port, 127.0.0.1 only
    use_local_aws(server.endpoint_url)         # dummy credentials + AWS_ENDPOINT_URL in os.environ
    res = provision(load_template(), server.endpoint_url, secret_value={...})
    env = res.function_environment("PusherFunction")

Production code runs unchanged: botocore reads ``AWS_ENDPOINT_URL`` itself. Only what moto can
run is created (DynamoDB tables with GSIs and TTL, SQS queues with FIFO settings and redrive, the
event bus with its rules and SQS targets, the KMS key and alias, the Intuit app secret, the state
machine); everything else (functions, layer, API, IAM, alarms) gets a plausible physical id so that
``Ref``/``Fn::GetAtt`` in environment variables resolve as they would in AWS.

``python -m local.aws`` starts and provisions, prints the resources and waits for Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from local.identity import ACCOUNT_ID, REGION
from local.template import (
    FUNCTION_TYPE,
    REPO_ROOT,
    PhysicalResource,
    Resolver,
    TemplateError,
    function_environment,
    load_template,
    references,
    resources,
)

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
DEFAULT_SECRET_VALUE = {
    "client_id": "local-client-id",
    "client_secret": "local-client-secret",
    "webhook_verifier_token": "local-webhook-verifier-token",
}


# ---------------------------------------------------------------------------- server
class _SerializedDynamoDB:
    """Runs DynamoDB requests one at a time.

    DynamoDB evaluates a condition and applies the write atomically; moto's threaded server does
    not, so two racing conditional writes could both pass. Serialising DynamoDB requests restores
    the guarantee our race tests depend on; other services (e.g. SQS long polls) stay concurrent.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._lock:
                # Materialise the body inside the lock: moto does its work while producing it.
                return list(self._app(environ, start_response))
        return self._app(environ, start_response)


class LocalMotoServer(ThreadedMotoServer):
    """moto on 127.0.0.1 and a port the OS picks (bound once: no race for a "free" port)."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)

    def _server_entry(self) -> None:
        app = _SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def start_moto() -> LocalMotoServer:
    # One access-log line per request drowns test output; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = LocalMotoServer()
    server.start()
    return server


def use_local_aws(endpoint_url: str, environ: os._Environ[str] | dict[str, str] | None = None) -> None:
    """Point every boto3 client of this process at the local server, with dummy credentials."""
    env = os.environ if environ is None else environ
    env.update(LOCAL_CREDENTIALS)
    env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_REGION"] = REGION
    env["AWS_ENDPOINT_URL"] = endpoint_url
    env.pop("AWS_PROFILE", None)


# ---------------------------------------------------------------------------- provisioning
@dataclass(frozen=True)
class QueueInfo:
    name: str
    url: str
    arn: str


@dataclass
class LocalResources:
    """Physical names of the provisioned stack, and the template to compute environments from."""

    endpoint_url: str
    stage: str
    stack_name: str
    template: dict[str, Any]
    parameters: dict[str, Any]
    physical: dict[str, PhysicalResource]
    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    event_bus_name: str = ""
    event_bus_arn: str = ""
    kms_key_id: str = ""
    secret_arn: str = ""
    state_machine_arn: str = ""

    def resolver(self, extra_params: Mapping[str, Any] | None = None) -> Resolver:
        return Resolver(
            self.template,
            self.physical,
            parameters={**self.parameters, **(extra_params or {})},
            region=REGION,
            account_id=ACCOUNT_ID,
            stack_name=self.stack_name,
        )

    def function_environment(
        self, function_logical_id: str, extra_params: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """The function's environment variables exactly as the template sets them."""
        return function_environment(self.template, function_logical_id, self.resolver(extra_params))

    def function_logical_ids(self) -> list[str]:
        return list(resources(self.template, FUNCTION_TYPE))

    def describe(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "stack_name": self.stack_name,
            "tables": self.tables,
            "queues": {logical_id: queue.url for logical_id, queue in self.queues.items()},
            "event_bus_name": self.event_bus_name,
            "kms_key_id": self.kms_key_id,
            "secret_arn": self.secret_arn,
            "state_machine_arn": self.state_machine_arn,
        }


def local_parameters(stage: str) -> dict[str, Any]:
    """Template parameters for a local stack (the callback URL is the local runner's business)."""
    return {
        "Stage": stage,
        "OAuthRedirectUri": "http://127.0.0.1:3000/integrations/quickbooks/callback",
    }


def provision(
    template: dict[str, Any],
    endpoint_url: str,
    stage: str = "local",
    *,
    secret_value: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str | None = None,
) -> LocalResources:
    """Create the template's resources on the local server; return their physical ids.

    ``secret_value`` is the JSON stored in the Intuit app secret: the QBO emulator's client id,
    client secret and webhook verifier token (defaults to :data:`DEFAULT_SECRET_VALUE`).
    """
    stack = stack_name or f"kyrios-quickbooks-{stage}"
    params = {**local_parameters(stage), **(parameters or {})}
    result = LocalResources(
        endpoint_url=endpoint_url,
        stage=stage,
        stack_name=stack,
        template=template,
        parameters=params,
        physical={},
    )
    provisioner = _Provisioner(result, dict(secret_value or DEFAULT_SECRET_VALUE))
    provisioner.create_secret()
    for logical_id in _creation_order(template):
        provisioner.create(logical_id, template["Resources"][logical_id])
    return result


def _creation_order(template: Mapping[str, Any]) -> list[str]:
    """Logical ids ordered so that every resource comes after those it refers to."""
    all_resources = template["Resources"]
    pending = {
        logical_id: {ref for ref in references(resource) if ref in all_resources and ref != logical_id}
        for logical_id, resource in all_resources.items()
    }
    ordered: list[str] = []
    while pending:
        ready = sorted(logical_id for logical_id, deps in pending.items() if deps <= set(ordered))
        if not ready:
            raise TemplateError(f"circular references between {sorted(pending)}")
        ordered.extend(ready)
        for logical_id in ready:
            del pending[logical_id]
    return ordered


class _Provisioner:
    def __init__(self, result: LocalResources, secret_value: dict[str, str]) -> None:
        self.result = result
        self.secret_value = secret_value
        self.clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service,
                region_name=REGION,
                endpoint_url=self.result.endpoint_url,
                aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=LOCAL_CREDENTIALS["AWS_SESSION_TOKEN"],
            )
        return self.clients[service]

    def name_for(self, logical_id: str, suffix: str = "") -> str:
        return f"{self.result.stack_name}-{logical_id}{suffix}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"

    def create(self, logical_id: str, resource: Mapping[str, Any]) -> None:
        resolver = self.result.resolver()
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            return
        props = resolver.resolve(resource.get("Properties", {}))
        creator = getattr(self, "_" + resource["Type"].replace("::", "_").lower(), None)
        physical = creator(logical_id, props) if creator else self._placeholder(logical_id, resource["Type"])
        self.result.physical[logical_id] = physical

    # -- resources moto runs
    def _aws_dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("TableName") or self.name_for(logical_id)
        ddb = self.client("dynamodb")
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [
                {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
                for index in props["GlobalSecondaryIndexes"]
            ]
        ddb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self.result.tables[logical_id] = name
        arn = self.arn("dynamodb", f"table/{name}")
        return PhysicalResource(ref=name, attributes={"Arn": arn})

    def _aws_sqs_queue(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        fifo = bool(props.get("FifoQueue"))
        name = props.get("QueueName") or self.name_for(logical_id, ".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
            "SqsManagedSseEnabled",
        ):
            if key in props:
                value = props[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.result.queues[logical_id] = QueueInfo(name=name, url=url, arn=arn)
        return PhysicalResource(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _aws_sqs_queuepolicy(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        sqs = self.client("sqs")
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return PhysicalResource(ref=self.name_for(logical_id))

    def _aws_events_eventbus(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        name = props.get("Name") or self.name_for(logical_id)
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        self.result.event_bus_name, self.result.event_bus_arn = name, arn
        return PhysicalResource(ref=name, attributes={"Arn": arn, "Name": name})

    def _aws_events_rule(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        events = self.client("events")
        name = props.get("Name") or self.name_for(logical_id)
        bus = props.get("EventBusName", "default")
        kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            kwargs["EventPattern"] = json.dumps(props["EventPattern"])
        if "ScheduleExpression" in props:
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**kwargs)["RuleArn"]
        if props.get("Targets"):
            targets = [
                {
                    key: target[key]
                    for key in ("Id", "Arn", "Input", "DeadLetterConfig", "RetryPolicy")
                    if key in target
                }
                for target in props["Targets"]
            ]
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return PhysicalResource(ref=name, attributes={"Arn": arn})

    def _aws_kms_key(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        kms = self.client("kms")
        metadata = kms.create_key(Description=props.get("Description", logical_id))["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        self.result.kms_key_id = metadata["KeyId"]
        return PhysicalResource(
            ref=metadata["KeyId"], attributes={"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}
        )

    def _aws_kms_alias(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        return PhysicalResource(ref=props["AliasName"])

    def _aws_serverless_statemachine(self, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
        definition = (REPO_ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = props.get("Name") or self.name_for(logical_id)
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        )["stateMachineArn"]
        self.result.state_machine_arn = arn
        return PhysicalResource(ref=arn, attributes={"Name": name, "Arn": arn})

    # -- everything else: ids only, so references resolve
    def _placeholder(self, logical_id: str, resource_type: str) -> PhysicalResource:
        name = self.name_for(logical_id)
        if resource_type == FUNCTION_TYPE:
            arn = self.arn("lambda", f"function:{name}")
            return PhysicalResource(ref=name, attributes={"Arn": arn})
        if resource_type == "AWS::Serverless::HttpApi":
            return PhysicalResource(ref="local", attributes={"ApiEndpoint": "http://127.0.0.1"})
        if resource_type == "AWS::IAM::ManagedPolicy":
            return PhysicalResource(ref=f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}")
        return PhysicalResource(ref=name, attributes={"Arn": self.arn("local", name)})

    def create_secret(self) -> None:
        resolver = self.result.resolver()
        secret_name = resolver.ref("IntuitAppSecretName")
        arn = self.client("secretsmanager").create_secret(
            Name=secret_name, SecretString=json.dumps(self.secret_value)
        )["ARN"]
        self.result.secret_arn = arn


# ---------------------------------------------------------------------------- helpers for tests
def union_environment(res: LocalResources, function_ids: Iterable[str] | None = None) -> dict[str, str]:
    """All functions' environment variables together (tests run code of every function)."""
    merged: dict[str, str] = {}
    for logical_id in function_ids or res.function_logical_ids():
        merged.update(res.function_environment(logical_id))
    return merged


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Start moto on 127.0.0.1 and provision template.yaml.")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--secret-json", help="Intuit app secret JSON (defaults to local dummy values)")
    args = parser.parse_args(argv)

    server = start_moto()
    use_local_aws(server.endpoint_url)
    secret = json.loads(args.secret_json) if args.secret_json else None
    res = provision(load_template(), server.endpoint_url, args.stage, secret_value=secret)
    print(json.dumps(res.describe(), indent=2))
    print(f"export AWS_ENDPOINT_URL={server.endpoint_url}")
    print("moto is running; Ctrl-C stops it.", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("moto stopped.")


if __name__ == "__main__":
    main()
