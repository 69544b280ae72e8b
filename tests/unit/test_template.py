"""template.yaml holds what the code expects: tables for the store, DLQs behind every queue, no secrets."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from kyrios_qbo import metering
from kyrios_qbo.config import Settings
from kyrios_qbo.store import connections
from kyrios_qbo.store import sweep as sweep_store
from local.template import REPO_ROOT, TEMPLATE_PATH, functions, load_template, references, resources

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = functions(TEMPLATE)
EXPECTED_FUNCTIONS = {
    "ApiFunction": "api",
    "OAuthCallbackFunction": "oauth_callback",
    "WebhookFunction": "webhook",
    "ContactPollerFunction": "contact_poller",
    "PusherFunction": "pusher",
    "ImportStepsFunction": "import_steps",
}
# Variables read outside Settings (by name, with os.environ) or by Powertools itself.
NON_SETTINGS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "PUSH_QUEUE_URL",
    "PUSH_DLQ_URL",
    "PUSH_MAX_RECEIVES",
    "ACCOUNT_ID_CLAIM",
}


def props(logical_id: str) -> dict:
    return RESOURCES[logical_id].get("Properties", {})


def test_template_is_sam_with_the_six_functions():
    assert TEMPLATE["Transform"] == "AWS::Serverless-2016-10-31"
    assert {name: Path(p["CodeUri"]).name for name, p in FUNCTIONS.items()} == EXPECTED_FUNCTIONS


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_FUNCTIONS))
def test_function_code_exists_and_matches_globals(logical_id):
    function = FUNCTIONS[logical_id]
    code_dir = REPO_ROOT / function["CodeUri"]
    assert (code_dir / "app.py").is_file(), f"{code_dir}/app.py missing"
    assert function["Handler"] == "app.lambda_handler"
    assert "def lambda_handler" in (code_dir / "app.py").read_text()
    assert function["Runtime"] == "python3.12" and function["Architectures"] == ["arm64"]
    assert function["Tracing"] == "Active" and function["Layers"] == [{"Ref": "SharedLayer"}]


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_FUNCTIONS))
def test_function_environment_is_known_to_the_code(logical_id):
    variables = set(FUNCTIONS[logical_id]["Environment"]["Variables"])
    settings_variables = {name.upper() for name in Settings.model_fields}
    unknown = variables - settings_variables - NON_SETTINGS_VARIABLES
    assert not unknown, f"{logical_id} sets variables nothing reads: {unknown}"
    assert {"STAGE", "TABLE_NAME", "POWERTOOLS_SERVICE_NAME"} <= variables


def test_layer_is_built_for_arm64_python312():
    layer = RESOURCES["SharedLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/shared"
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}
    assert (REPO_ROOT / "layers/shared/requirements.txt").is_file()
    assert (REPO_ROOT / "layers/shared/kyrios_qbo/__init__.py").is_file()


def test_state_machine_definition_exists_and_uses_only_declared_substitutions():
    machine = props("ImportStateMachine")
    definition = (REPO_ROOT / machine["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{(\w+)\}", definition))
    assert used <= set(machine["DefinitionSubstitutions"])


# ---------------------------------------------------------------------------------------- tables
def test_main_table_matches_the_store():
    table = props("Table")
    assert {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
        "gsi1pk": "S",
        "gsi1sk": "S",
        "gsi2pk": "S",
        "gsi2sk": "S",
    }
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    index, due = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == connections.CONNECTED_GSI
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert due["IndexName"] == sweep_store.SWEEP_GSI
    assert [k["AttributeName"] for k in due["KeySchema"]] == ["gsi2pk", "gsi2sk"]
    # list_connected_accounts and the sweep's due_page read these from the indexes
    for gsi in (index, due):
        assert {"account_id", "realm_id"} <= set(gsi["Projection"].get("NonKeyAttributes", [])) or (
            gsi["Projection"]["ProjectionType"] == "ALL"
        )
    assert RESOURCES["Table"]["DeletionPolicy"] == "Retain"


def test_the_sweep_is_configured_by_its_parameters_and_watched_by_alarms():
    params = TEMPLATE["Parameters"]
    assert params["SafetySweepInterval"]["Default"] == 1440
    assert params["SafetySweepMaxInterval"]["Default"] == 1440
    assert params["CorePlusMonthlyBudget"]["Default"] == 500000
    env = props("ContactPollerFunction")["Environment"]["Variables"]
    assert env["SAFETY_SWEEP_INTERVAL_MINUTES"] == {"Ref": "SafetySweepInterval"}
    assert env["SAFETY_SWEEP_MAX_INTERVAL_MINUTES"] == {"Ref": "SafetySweepMaxInterval"}
    assert env["COREPLUS_MONTHLY_BUDGET"] == {"Ref": "CorePlusMonthlyBudget"}
    service = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    namespace = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    used = props("CorePlusBudgetAlarm")
    assert (used["Namespace"], used["MetricName"], used["Threshold"]) == (
        namespace, "CorePlusBudgetUsedPercent", 80)
    assert used["Dimensions"] == [{"Name": "service", "Value": service}]  # Powertools' only dimension
    shortfall = props("SweepBudgetShortfallAlarm")
    assert (shortfall["MetricName"], shortfall["Threshold"]) == ("SweepBudgetShortfall", 0)
    pace = props("CorePlusPaceAlarm")
    stat = pace["Metrics"][0]["MetricStat"]["Metric"]
    assert (stat["Namespace"], stat["MetricName"]) == (namespace, metering.METRIC_NAMES["CorePlus"])
    assert pace["Threshold"] == 80


# ---------------------------------------------------------------------------------------- queues
def sqs_event_sources():
    for logical_id, function in FUNCTIONS.items():
        for event in function.get("Events", {}).values():
            if event["Type"] == "SQS":
                yield logical_id, event["Properties"]


def test_every_queue_a_function_consumes_has_a_dlq_and_partial_batch_failures():
    sources = list(sqs_event_sources())
    assert {logical_id for logical_id, _ in sources} == {"ContactPollerFunction", "PusherFunction"}
    for logical_id, source in sources:
        queue_id = source["Queue"]["Fn::GetAtt"][0]
        queue = props(queue_id)
        redrive = queue.get("RedrivePolicy")
        assert redrive, f"{queue_id} consumed by {logical_id} has no DLQ"
        dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        dlq = props(dlq_id)
        assert dlq["MessageRetentionPeriod"] == 14 * 86400
        assert bool(dlq.get("FifoQueue")) == bool(queue.get("FifoQueue")), "a FIFO queue needs a FIFO DLQ"
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        timeout = FUNCTIONS[logical_id]["Timeout"]
        assert queue["VisibilityTimeout"] >= 6 * timeout, f"{queue_id} visibility < 6x {logical_id} timeout"
        alarms = [
            r
            for r in resources(TEMPLATE, "AWS::CloudWatch::Alarm").values()
            if {"Fn::GetAtt": [dlq_id, "QueueName"]}
            in [d["Value"] for d in r["Properties"].get("Dimensions", [])]
        ]
        assert alarms, f"no alarm on {dlq_id}"


def test_push_queue_redrive_matches_what_the_pusher_reads():
    redrive = props("PushQueue")["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == {"Ref": "PushMaxReceives"}
    assert FUNCTIONS["PusherFunction"]["Environment"]["Variables"]["PUSH_MAX_RECEIVES"] == {
        "Ref": "PushMaxReceives"
    }
    assert TEMPLATE["Parameters"]["PushMaxReceives"]["Default"] == 5


def test_poll_queue_is_fifo_per_company():
    queue = props("PollQueue")
    assert queue["FifoQueue"] is True and queue["ContentBasedDeduplication"] is False
    assert (
        queue["DeduplicationScope"] == "messageGroup" and queue["FifoThroughputLimit"] == "perMessageGroupId"
    )
    poller = next(s for f, s in sqs_event_sources() if f == "ContactPollerFunction")
    assert poller["BatchSize"] == 1


def test_kyrios_events_reach_the_push_queue_with_a_dlq_and_a_scoped_policy():
    rule = props("KyriosDocumentEventsRule")
    assert rule["EventPattern"] == {
        "source": ["kyrios.core"],
        "detail-type": [
            "invoice.sent",
            "invoice.updated",
            "invoice.paid",
            "invoice.voided",
            "payment.completed",
        ],
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PushQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["PushDeadLetterQueue", "Arn"]}
    (statement,) = props("PushQueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["KyriosDocumentEventsRule", "Arn"]
    }


# ---------------------------------------------------------------------------------------- API
def test_routes_and_auth():
    routes = {}
    for logical_id, function in FUNCTIONS.items():
        for event in function.get("Events", {}).values():
            if event["Type"] == "HttpApi":
                p = event["Properties"]
                routes[(p["Method"], p["Path"])] = (logical_id, p.get("Auth", {}).get("Authorizer"))
    public = {route for route, (_, authorizer) in routes.items() if authorizer == "NONE"}
    assert public == {("GET", "/integrations/quickbooks/callback"), ("POST", "/webhooks/intuit")}
    # Every route the API function answers is a route API Gateway sends it, and nothing else.
    from functions.api.app import openapi_document

    paths = openapi_document()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert {route for route, (fn, _) in routes.items() if fn == "ApiFunction"} == documented
    assert props("HttpApi")["Auth"]["DefaultAuthorizer"] == "KyriosJwt"


# ---------------------------------------------------------------------------------------- security
SECRET_PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(client_secret|verifier_token|password)\s*[:=]\s*['\"]?[A-Za-z0-9/+]{12,}", re.IGNORECASE),
]


@pytest.mark.parametrize("path", [TEMPLATE_PATH, REPO_ROOT / "samconfig.toml"])
def test_no_literal_secrets(path):
    text = path.read_text()
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{path.name} looks like it contains a secret ({pattern.pattern})"


def test_secret_values_come_from_secrets_manager_only():
    for logical_id, function in FUNCTIONS.items():
        for name, value in function["Environment"]["Variables"].items():
            if re.search(r"SECRET|TOKEN|PASSWORD|CLIENT", name):
                assert isinstance(value, dict), f"{logical_id}.{name} is a literal"


def test_every_iam_wildcard_is_justified_by_a_comment():
    lines = TEMPLATE_PATH.read_text().splitlines()
    for number, line in enumerate(lines):
        code = line.split("#", 1)[0]
        if "*" in code and not re.search(r"^\s*(Description|AlarmDescription):", code):
            context = lines[max(0, number - 3) : number]
            assert any(c.strip().startswith("#") for c in context), (
                f"line {number + 1} has an unexplained wildcard"
            )


# ---------------------------------------------------------------------------------------- deploy config
APP_SECRET_NAME = "kyrios/quickbooks/{stage}/intuit-app"


def samconfig_overrides() -> dict[str, dict[str, str]]:
    """{config env: {parameter: value}} of samconfig.toml's ``sam deploy`` parameter overrides."""
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    return {
        env: dict(item.split("=", 1) for item in section["deploy"]["parameters"]["parameter_overrides"])
        for env, section in config.items()
        if isinstance(section, dict) and "deploy" in section
    }


def test_one_name_for_the_intuit_app_secret():
    """Template default, samconfig.toml and the README's create-secret command name it alike."""
    overrides = samconfig_overrides()
    assert set(overrides) == {"default", "prod"}
    parameters = TEMPLATE["Parameters"]
    assert parameters["IntuitAppSecretName"]["Default"] == APP_SECRET_NAME.format(
        stage=parameters["Stage"]["Default"]
    )
    for env, values in overrides.items():
        assert values["IntuitAppSecretName"] == APP_SECRET_NAME.format(stage=values["Stage"]), env
    created = re.findall(r"secretsmanager create-secret --name (\S+)", (REPO_ROOT / "README.md").read_text())
    assert created, "the README no longer shows how to create the secret"
    assert set(created) <= {values["IntuitAppSecretName"] for values in overrides.values()}


def test_no_deployed_stage_logs_at_debug():
    """At DEBUG botocore logs secret responses (README, LogLevel): samconfig keeps every stage above it."""
    default = TEMPLATE["Parameters"]["LogLevel"]["Default"]
    assert default == "INFO"
    for env, values in samconfig_overrides().items():
        assert values.get("LogLevel", default) == "INFO", env


# ---------------------------------------------------------------------------------------- deployability
def test_no_circular_dependencies_after_the_sam_transform():
    """CloudFormation rejects cycles (e.g. a function's env referring to the HttpApi it serves)."""
    sam_python = REPO_ROOT / ".venv-sam" / "bin" / "python"
    if not sam_python.exists():
        pytest.skip("the SAM virtualenv is missing: `make install` creates it (aws-sam-translator)")
    document = copy.deepcopy(TEMPLATE)
    for resource in document["Resources"].values():
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    answer = subprocess.run(
        [str(sam_python), str(REPO_ROOT / "tools" / "sam_transform.py")],
        input=json.dumps(document), capture_output=True, text=True, check=True, timeout=120,
    )
    output = json.loads(answer.stdout)
    graph = {
        logical_id: {
            ref
            for ref in references(resource) | set(_depends_on(resource))
            if ref in output["Resources"] and ref != logical_id
        }
        for logical_id, resource in output["Resources"].items()
    }
    assert _find_cycle(graph) is None


def _depends_on(resource: dict) -> list[str]:
    value = resource.get("DependsOn", [])
    return [value] if isinstance(value, str) else list(value)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_cycle_detector_finds_the_httpapi_redirect_cycle():
    """The check above can fail: this is the cycle a !Sub of the HttpApi id in OAUTH_REDIRECT_URI made."""
    graph = {"ApiFunction": {"HttpApi"}, "HttpApi": {"ApiFunction"}, "Table": set()}
    assert _find_cycle(graph) == ["ApiFunction", "HttpApi", "ApiFunction"]
    assert _find_cycle({"ApiFunction": {"Table"}, "Table": set()}) is None


def test_tracing_stays_active_and_is_sampled_by_a_parameterised_rule():
    rule = props("TracingSamplingRule")["SamplingRule"]
    assert RESOURCES["TracingSamplingRule"]["Type"] == "AWS::XRay::SamplingRule"
    assert rule["FixedRate"] == {"Ref": "TracingSampleRate"}
    assert rule["ReservoirSize"] == {"Ref": "TracingReservoir"}
    assert rule["ServiceName"] == {"Fn::Sub": "${AWS::StackName}-*"}  # this stack's functions only
    params = TEMPLATE["Parameters"]
    assert 0 < params["TracingSampleRate"]["Default"] <= 0.05
    assert params["TracingReservoir"]["Default"] == 0
    assert all(f["Tracing"] == "Active" for f in FUNCTIONS.values())
