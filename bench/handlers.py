"""Handler-level figures: webhook latency in process, cold import time and peak memory of every function.

- Webhook p50/p99: Intuit's signed notification, turned into the API Gateway event by the local
  front door's own event builder, run through the webhook handler in this process against local
  AWS (the first, cold call is left out). Goal p99 ≤ 50 ms.
- Cold import: ``python -X importtime -c "import app"`` in a fresh process with the function folder
  and the layer on the path, top-level cumulative times summed; against ``import boto3`` measured the
  same way in the same run (median of 3 after a warm-up that fills the bytecode cache).
- Peak RSS: a fresh process per function (``bench.rss_probe``) runs real events against the same
  local stack after a short scenario (connect, push, webhook, tick, import of ``RSS_IMPORT_INVOICES``).
  Events that would short-circuit on replay are replaced by real work: the pusher gets new documents
  (new event ids, in the SQS records Lambda would get), the import step gets the first page of a new
  import job over the same 1,000 invoices (a page of 1,000). The others replay what they received.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bench import imports
from bench.counting import COUNTERS
from bench.figures import Figure, percentile
from bench.harness import (
    REPO,
    Connected,
    bus_listener,
    connect,
    documents,
    new_realm,
    publish_all,
    running_stack,
    wait_for,
)
from local.demo_steps.actors import KyriosUi, QboUser
from local.qbo_emulator import DEFAULT_VERIFIER_TOKEN
from local.qbo_emulator.webhooks import legacy_payload, sign
from local.runner import WEBHOOK_PATH, LocalBundle
from local.template import functions

LAYER_DIR = REPO / "layers" / "shared"
RSS_IMPORT_INVOICES = 1000
RSS_PUSHES = 10
LAMBDA_MEMORY_MB = 128
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


@dataclass(frozen=True)
class Options:
    webhook_calls: int = 300
    import_repeats: int = 3


# ---------------------------------------------------------------------------- webhook latency
def _webhook_event(stack: LocalBundle, realm_id: str, n: int) -> dict[str, Any]:
    change = {
        "name": "Customer",
        "id": str(1000 + n),
        "operation": "Create",
        "lastUpdated": "2026-01-01T00:00:00Z",
    }
    body = json.dumps(legacy_payload({realm_id: [change]})).encode()
    request = Request(
        EnvironBuilder(
            path=WEBHOOK_PATH,
            method="POST",
            data=body,
            headers=[
                ("intuit-signature", sign(body, DEFAULT_VERIFIER_TOKEN)),
                ("Content-Type", "application/json"),
            ],
        ).get_environ()
    )
    found = stack.front_door.find_route("POST", WEBHOOK_PATH)
    assert found is not None, "the template has no webhook route"
    route, params = found
    return stack.front_door.build_event(request, route, params, None, f"bench-{n}")


def _webhook_latency(stack: LocalBundle, realm_id: str, calls: int) -> tuple[float, list[float]]:
    webhook = stack.functions["WebhookFunction"]
    stack.poller("ContactPollerFunction").stop()  # the nudges wait on the queue: no polling beside the timing
    events = [_webhook_event(stack, realm_id, n) for n in range(calls + 1)]
    timings = []
    for event in events:
        started = time.perf_counter()
        answer = webhook.invoke(event)
        timings.append(time.perf_counter() - started)
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"webhook answered {answer}")
    return timings[0], timings[1:]


# ---------------------------------------------------------------------------- cold import time
def _import_seconds(statement: str, code_dir: str | None) -> float:
    path = [str(LAYER_DIR)] + ([code_dir] if code_dir else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    answer = subprocess.run(  # noqa: S603 - our own interpreter and a fixed statement
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=code_dir or str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return sum_top_level_imports(answer.stderr) / 1e6


def sum_top_level_imports(importtime_output: str) -> int:
    """Microseconds: the cumulative times of the top-level imports in ``-X importtime`` output."""
    total = 0
    for line in importtime_output.splitlines():
        found = _IMPORT_LINE.match(line)
        if found and found.group(3) == " ":
            total += int(found.group(2))
    return total


def _median_import(statement: str, code_dir: str | None, repeats: int) -> float:
    _import_seconds(statement, code_dir)  # fills the bytecode cache, as a deployed package has it
    return statistics.median(_import_seconds(statement, code_dir) for _ in range(repeats))


# ---------------------------------------------------------------------------- peak memory
def _scenario(stack: LocalBundle) -> Connected:
    """Give every function real events: connect, push, a webhook, a tick, an import of 1,000 invoices."""
    at = connect(stack, new_realm())
    today = date.today()
    imports.seed(
        stack,
        at.realm_id,
        imports.Options(invoices=RSS_IMPORT_INVOICES, customers=50),
        today - timedelta(days=29),
        today - timedelta(days=1),
        bill_email=True,
    )
    publish_all(stack, at.account_id, documents(10, tag="rss"))
    stack.wait_idle(timeout=60)
    listener = bus_listener(stack)
    try:
        QboUser(stack.emulator.control, at.realm_id).create_customer("Rss Person", "rss.person@example.com")
        listener.wait_for("contact.created", timeout=20)
    finally:
        listener.close()
    stack.schedule("ContactPollerFunction").fire()
    stack.wait_idle(timeout=60)
    ui = KyriosUi(stack.api_url, stack.dev_token(at.account_id))
    answer = ui.call(
        "POST",
        "/integrations/quickbooks/imports",
        {
            "start_date": (today - timedelta(days=30)).isoformat(),
            "end_date": today.isoformat(),
            "send_review_requests": False,
        },
    )
    job = answer.json().get("id")
    wait_for(
        lambda: ui.call("GET", f"/integrations/quickbooks/imports/{job}").json().get("state") != "running",
        120,
    )
    ui.status()
    return at


def _pushes(at: Connected, template: dict[str, Any]) -> list[dict[str, Any]]:
    """SQS events (the shape Lambda gets, from one the pusher received) carrying new documents."""
    records = []
    for doc in documents(RSS_PUSHES, tag=f"rp{uuid.uuid4().hex[:4]}"):
        record = dict(template["Records"][0])
        envelope = json.loads(record["body"])
        detail_type, detail = doc.kyrios_event(at.account_id)
        envelope.update({"id": str(uuid.uuid4()), "detail-type": detail_type, "detail": detail})
        record.update({"messageId": str(uuid.uuid4()), "body": json.dumps(envelope)})
        records.append(record)
    return [{**template, "Records": records[n : n + 10]} for n in range(0, len(records), 10)]


def _import_page(at: Connected, recorded: list[Any]) -> list[dict[str, Any]]:
    """The first page of a new import job (the same date range: a page of 1,000 invoices)."""
    from kyrios_qbo import store  # the layer, on the path once the stack runs

    page = next(  # the scenario's import (events of earlier workloads' stacks may be recorded too)
        e
        for e in reversed(recorded)
        if isinstance(e, dict)
        and e.get("step") == "page"
        and (e.get("cursor") or {}).get("account_id") == at.account_id
    )
    params = (store.get_import(at.account_id, page["cursor"]["job_id"]) or _missing(page)).params
    job = store.create_import(at.account_id, params)
    return [{"step": "page", "cursor": {"account_id": at.account_id, "job_id": job.job_id}}]


def _missing(event: dict[str, Any]) -> Any:
    raise RuntimeError(f"the import job of {event} is gone")


def _real_events(function_id: str, at: Connected) -> list[Any]:
    recorded = [e for e in COUNTERS.recent_events.get(function_id, []) if e is not None]
    if function_id == "PusherFunction" and recorded:
        return _pushes(at, recorded[-1])
    if function_id == "ImportStepsFunction":
        return _import_page(at, recorded)
    return recorded


def _peak_rss(stack: LocalBundle, function_id: str, at: Connected) -> dict[str, Any]:
    function = stack.functions[function_id]
    events = _real_events(function_id, at)
    job = {
        "code_dir": str(function.code_dir),
        "layer_dir": str(LAYER_DIR),
        "events": events,
        "function_name": function.physical_name,
    }
    answer = subprocess.run(
        [sys.executable, "-m", "bench.rss_probe"],
        input=json.dumps(job, default=str),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **function.environment, "PYTHONPATH": str(REPO)},
        check=True,
    )
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def run(options: Options) -> list[Figure]:
    figures: list[Figure] = []
    with running_stack("hdl", time_scale=1.0) as stack:
        scenario = _scenario(stack)
        rss = {
            function_id: _peak_rss(stack, function_id, scenario) for function_id in sorted(stack.functions)
        }
        at = connect(stack, new_realm())
        cold, warm = _webhook_latency(stack, at.realm_id, options.webhook_calls)
        boto3_seconds = _median_import("import boto3", None, options.import_repeats)
        imports = {
            function_id: _median_import("import app", str(function.code_dir), options.import_repeats)
            for function_id, function in sorted(stack.functions.items())
        }
    ms = [t * 1000 for t in warm]
    figures.append(
        Figure(
            "webhook",
            "handler p50 in process",
            "ms",
            percentile(ms, 50),
            notes=f"{len(ms)} signed notifications; first (cold) call {cold * 1000:.0f} ms",
        )
    )
    figures.append(Figure("webhook", "handler p99 in process", "ms", percentile(ms, 99), goal=50))
    for function_id, seconds in imports.items():
        figures.append(
            Figure(
                "cold start",
                f"import time of {function_id}",
                "ms",
                seconds * 1000,
                boto3_seconds * 1000,
                notes="baseline column = bare `import boto3`, same way, same run",
            )
        )
    template_memory = {fid: props.get("MemorySize") for fid, props in functions(stack.template).items()}
    for function_id, probe in rss.items():
        figures.append(
            Figure(
                "memory",
                f"peak RSS of {function_id}",
                "MB",
                probe["max_rss_mb"],
                goal=LAMBDA_MEMORY_MB,
                notes=f"{probe['invocations']} real events ({probe['errors']} refused)"
                + (
                    f"; {RSS_PUSHES} new documents pushed ({probe.get('failed_records', 0)} records failed)"
                    if function_id == "PusherFunction"
                    else ""
                )
                + (
                    f"; the first page of a new import: {probe.get('processed', 0):,} invoices"
                    if function_id == "ImportStepsFunction"
                    else ""
                )
                + "; "
                f"template gives it {template_memory.get(function_id)} MB",
            )
        )
    return figures
