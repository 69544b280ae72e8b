"""Historical import, issue 15 §4: QBO queries per N invoices, and how fast a cancel stops publishing.

Three imports of N invoices, each into its own company, started and cancelled through the API as the
Kyrios UI does and run by the real state machine (moto executes the ASL):

- invoices carrying their customer's name and email (``BillEmail``, as QBO sets it on an emailed
  invoice): QBO queries counted in the emulator's request log; the goal is ``ceil(N/1000) + 1``;
- invoices without ``BillEmail``: each customer is read once per import, in ``Id IN (...)`` queries of
  at most 200, so the floor is ``ceil(N/1000) + 1 + ceil(customers/200)``;
- a cancel once half the invoices are processed: the time from the cancel request to the last
  ``invoice.imported`` event on the bus (wall clock: the bus delivers to a CloudWatch Logs group that
  stamps each event when it is put), the events published after the request, and whether the job's
  figures equal the events on the bus.

No baseline side: python-quickbooks has no import job to cancel; ``bench/imports.py`` compares reads.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bench.counting import counts_since
from bench.figures import Figure
from bench.harness import BenchError, connect, new_realm, running_stack, wait_for
from bench.imports import Options as SeedOptions
from bench.imports import _query_calls
from bench.imports import seed as seed_invoices
from local.demo_steps.actors import KyriosUi
from local.runner import LocalBundle

CUSTOMERS_PER_QUERY = 200  # as kyrios_qbo.import_page reads them


@dataclass(frozen=True)
class Options:
    invoices: int = 2_500
    customers: int = 200


class _BusLog:
    """The ``invoice.imported`` events of one account, as a CloudWatch Logs target stamps them."""

    def __init__(self, stack: LocalBundle, account_id: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.logs, self.events = stack.client("logs"), stack.client("events")
        self.group, self.rule = f"/bench/import-bus/{suffix}", f"bench-import-bus-{suffix}"
        self.bus = stack.resources.event_bus_name
        self.logs.create_log_group(logGroupName=self.group)
        self.events.put_rule(
            Name=self.rule,
            EventBusName=self.bus,
            State="ENABLED",
            EventPattern=json.dumps(
                {"detail-type": ["invoice.imported"], "detail": {"account_id": [account_id]}}
            ),
        )
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{self.group}"
        self.events.put_targets(Rule=self.rule, EventBusName=self.bus, Targets=[{"Id": "log", "Arn": arn}])

    def stamps(self) -> list[int]:
        """When each event was put on the bus (epoch ms)."""
        found: list[int] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group}
        while True:
            page = self.logs.filter_log_events(**kwargs)
            found += [int(entry["timestamp"]) for entry in page.get("events", [])]
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def close(self) -> None:
        self.events.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["log"])
        self.events.delete_rule(Name=self.rule, EventBusName=self.bus)


def _start(ui: KyriosUi, first: date, last: date) -> str:
    body = {"start_date": first.isoformat(), "end_date": last.isoformat(), "send_review_requests": False}
    answer = ui.call("POST", "/integrations/quickbooks/imports", body)
    if answer.status_code != 202:
        raise BenchError(f"starting the import answered {answer.status_code}: {answer.text[:300]}")
    return str(answer.json()["id"])


def _state(ui: KyriosUi, job_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = ui.call("GET", f"/integrations/quickbooks/imports/{job_id}").json()
    return answer


def _queries(stack: LocalBundle, options: Options, bill_email: bool, first: date, last: date) -> int:
    at = connect(stack, new_realm())
    seed = SeedOptions(options.invoices, options.customers)
    seed_invoices(stack, at.realm_id, seed, first, last, bill_email=bill_email)
    control = stack.emulator.control
    ui = KyriosUi(stack.api_url, stack.dev_token(at.account_id))
    before = control.request_counts()
    job_id = _start(ui, first, last)
    state: dict[str, Any] = {}

    def finished() -> bool:
        state.update(_state(ui, job_id))
        return bool(state["state"] != "running")

    wait_for(finished, timeout=900, interval=0.25)
    if state.get("state") != "succeeded" or state["summary"]["published"] != options.invoices:
        raise BenchError(f"import ended {state.get('state')}: {state}")
    return _query_calls(counts_since(control.request_counts(), before), at.realm_id)


def _cancel(stack: LocalBundle, options: Options, first: date, last: date) -> dict[str, Any]:
    at = connect(stack, new_realm())
    seed_invoices(
        stack, at.realm_id, SeedOptions(options.invoices, options.customers), first, last, bill_email=True
    )
    ui = KyriosUi(stack.api_url, stack.dev_token(at.account_id))
    bus = _BusLog(stack, at.account_id)
    try:
        job_id = _start(ui, first, last)
        half = options.invoices // 2
        if not wait_for(lambda: _state(ui, job_id)["processed"] >= half, timeout=900, interval=0.05):
            raise BenchError(f"the import never reached {half} invoices")
        cancelled_at_ms = time.time() * 1000
        answer = ui.call("DELETE", f"/integrations/quickbooks/imports/{job_id}")
        if answer.status_code != 200 or answer.json().get("state") != "cancelled":
            raise BenchError(f"cancelling answered {answer.status_code}: {answer.text[:300]}")
        answered = answer.json()
        # The bus is quiet once the step saw the cancel; the job's figures are settled by then.
        seen: list[int] = []

        def settled() -> bool:
            now = bus.stamps()
            quiet = len(now) == len(seen) and time.time() * 1000 - max(now, default=0) > 3000
            seen[:] = now
            return quiet

        wait_for(settled, timeout=120, interval=1.0)
        final = _state(ui, job_id)
    finally:
        bus.close()
    after = [stamp for stamp in seen if stamp >= cancelled_at_ms]
    return {
        "seconds_to_last_event": (max(after) - cancelled_at_ms) / 1000 if after else 0.0,
        "events_after_cancel": len(after),
        "events": len(seen),
        "processed_when_cancelled": answered["processed"],
        "final": {k: final[k] for k in ("state", "processed", "summary")},
        "figures_match_bus": final["processed"] == len(seen) == final["summary"]["published"],
    }


def run(options: Options) -> list[Figure]:
    last = date.today().replace(month=1, day=1) - timedelta(days=1)
    first = last.replace(month=1, day=1)
    n = options.invoices
    pages = math.ceil(n / 1000)
    with running_stack("impc", time_scale=1.0, rate_limits=True) as stack:
        carried = _queries(stack, options, True, first, last)
        read_once = _queries(stack, options, False, first, last)
        cancel = _cancel(stack, options, first, last)
    customer_reads = math.ceil(options.customers / CUSTOMERS_PER_QUERY)
    return [
        Figure(
            "import",
            f"QBO queries for {n:,} invoices carrying name and BillEmail",
            "calls",
            carried,
            goal=pages + 1,
            notes="count + one per page; no customer read",
        ),
        Figure(
            "import",
            f"QBO queries for {n:,} invoices without BillEmail ({options.customers} customers)",
            "calls",
            read_once,
            goal=pages + 1,  # the goal, customers included; this shape misses it
            notes=f"each customer read once per import ({CUSTOMERS_PER_QUERY} per query): at best "
            f"{pages + 1} + {customer_reads}, one query per {CUSTOMERS_PER_QUERY} customers over the goal",
        ),
        Figure(
            "import",
            f"cancel request → last invoice.imported ({n:,} invoices, cancelled at half)",
            "s",
            cancel["seconds_to_last_event"],
            notes=f"{cancel['events_after_cancel']} events after the request; job figures "
            f"{'equal' if cancel['figures_match_bus'] else 'DIFFER from'} the bus "
            f"({cancel['final']['processed']} processed, {cancel['events']} events)",
            details=cancel,
        ),
    ]
