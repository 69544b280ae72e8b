"""Historical import of N invoices: QBO query calls and wall time, ours vs a python-quickbooks paging loop.

Ours: started from the API as the Kyrios UI does, run by the real state machine (moto executes the
ASL, the import_steps handler does each step), publishing every invoice (and its customer) to
Kyrios. Baseline: ``Invoice.where(..., start_position, max_results)`` in one process, pages of 100
(python-quickbooks' default) and of 1000 — it only reads, it publishes nothing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bench.counting import COUNTERS, Snapshot, counts_since, qbo_calls
from bench.figures import Figure
from bench.harness import BenchError, connect, new_realm, run_baseline, running_stack, wait_for
from local.demo_steps.actors import KyriosUi
from local.runner import LocalBundle

SEED_CHUNK = 1000


@dataclass(frozen=True)
class Options:
    invoices: int = 10_000
    customers: int = 200


def seed(
    stack: LocalBundle, realm_id: str, options: Options, first: date, last: date, *, bill_email: bool = False
) -> None:
    """``options.invoices`` invoices over ``options.customers`` customers (all with an email);
    ``bill_email``: each invoice carries its customer's email as ``BillEmail`` (an emailed invoice)."""
    control = stack.emulator.control
    people = [
        {"DisplayName": f"Archive {n:04d}", "PrimaryEmailAddr": {"Address": f"archive{n:04d}@example.com"}}
        for n in range(options.customers)
    ]
    customer_ids = control.seed(realm_id, customers=people)["customers"]
    item_id = next(i["Id"] for i in control.entities(realm_id, "Item") if i["Name"] == "Services")
    span = (last - first).days
    for start in range(0, options.invoices, SEED_CHUNK):
        chunk = [
            {
                "CustomerRef": {"value": customer_ids[i % options.customers]},
                "TxnDate": (first + timedelta(days=i * span // max(1, options.invoices - 1))).isoformat(),
                "DocNumber": f"OLD-{i:05d}",
                **(
                    {"BillEmail": {"Address": f"archive{i % options.customers:04d}@example.com"}}
                    if bill_email
                    else {}
                ),
                "Line": [
                    {
                        "Amount": 100 + i % 50,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": item_id},
                            "Qty": 1,
                            "UnitPrice": 100 + i % 50,
                        },
                    }
                ],
            }
            for i in range(start, min(options.invoices, start + SEED_CHUNK))
        ]
        control.seed(realm_id, invoices=chunk)


def _query_calls(counts: dict[str, dict[str, int]], realm_id: str) -> int:
    return sum(n for endpoint, n in qbo_calls(counts, {realm_id}).items() if endpoint.endswith("query"))


def _transitions(stack: LocalBundle) -> int:
    """State transitions of the import executions (what Step Functions standard bills)."""
    sfn = stack.step_functions
    client = sfn.client()
    arn = sfn.state_machine_arn("ImportStateMachine")
    total = 0
    for execution in client.list_executions(stateMachineArn=arn)["executions"]:
        history = sfn.history(execution["executionArn"])
        total += sum(1 for event in history if event["type"].endswith("StateEntered"))
    return total


def _ours(stack: LocalBundle, account_id: str, realm_id: str, first: date, last: date) -> dict[str, Any]:
    ui = KyriosUi(stack.api_url, stack.dev_token(account_id))
    control = stack.emulator.control
    before = control.request_counts()
    started = time.monotonic()
    answer = ui.call(
        "POST",
        "/integrations/quickbooks/imports",
        {"start_date": first.isoformat(), "end_date": last.isoformat(), "send_review_requests": False},
    )
    if answer.status_code != 202:
        raise BenchError(f"starting the import answered {answer.status_code}: {answer.text[:300]}")
    job_id = answer.json()["id"]
    state: dict[str, Any] = {}

    def finished() -> bool:
        state.update(ui.call("GET", f"/integrations/quickbooks/imports/{job_id}").json())
        return state.get("state") not in ("running", "pending", None)

    wait_for(finished, timeout=900, interval=0.25)
    seconds = time.monotonic() - started
    if state.get("state") != "succeeded":
        raise BenchError(f"import ended {state.get('state')}: {state}")
    return {
        "seconds": seconds,
        "queries": _query_calls(counts_since(control.request_counts(), before), realm_id),
        "published": (state.get("summary") or {}).get("published"),
        "state": state.get("state"),
    }


def _baseline(stack: LocalBundle, realm_id: str, first: date, last: date, page_size: int) -> dict[str, Any]:
    control = stack.emulator.control
    before = control.request_counts()
    result = run_baseline(
        stack,
        realm_id,
        "import",
        timeout=900,
        start_date=first.isoformat(),
        end_date=last.isoformat(),
        page_size=page_size,
        retry_delay=1.0,
    )
    result["queries"] = _query_calls(counts_since(control.request_counts(), before), realm_id)
    return result


def run(options: Options) -> tuple[list[Figure], Snapshot, int, int]:
    """Figures, our AWS usage, invoices imported, and Step Functions transitions."""
    last = date.today().replace(month=1, day=1) - timedelta(days=1)
    first = last.replace(month=1, day=1)
    with running_stack("imp", time_scale=1.0, rate_limits=True) as stack:
        at = connect(stack, new_realm())
        seed(stack, at.realm_id, options, first, last)
        before = COUNTERS.snapshot()
        ours = _ours(stack, at.account_id, at.realm_id, first, last)
        usage = COUNTERS.snapshot().since(before)
        transitions = _transitions(stack)
        base100 = _baseline(stack, at.realm_id, first, last, 100)
        base1000 = _baseline(stack, at.realm_id, first, last, 1000)
    n = options.invoices
    if base100["read"] != n or base1000["read"] != n:
        raise BenchError(f"the baseline read {base100['read']}/{base1000['read']} of {n} invoices")
    common = f"ours published {ours['published']} invoices to Kyrios through the state machine"
    figures = [
        Figure(
            "import",
            f"QBO query calls for {n:,} invoices vs pages of 100",
            "calls",
            ours["queries"],
            base100["queries"],
            goal=math.ceil(n / 1000) + 1,
            notes=f"{common}; goal = ceil(N/1000) + 1 (the issue's)",
            details={"ours": ours, "baseline": base100},
        ),
        Figure(
            "import",
            f"QBO query calls for {n:,} invoices vs pages of 1000",
            "calls",
            ours["queries"],
            base1000["queries"],
            goal=math.ceil(n / 1000) + 1,
            details={"baseline": base1000},
        ),
        Figure(
            "import",
            f"wall time for {n:,} invoices vs pages of 100",
            "s",
            ours["seconds"],
            base100["seconds"],
            notes="the baseline only reads; ours also publishes each invoice and customer to the bus",
        ),
        Figure(
            "import",
            f"wall time for {n:,} invoices vs pages of 1000",
            "s",
            ours["seconds"],
            base1000["seconds"],
        ),
    ]
    return figures, usage, int(ours["published"] or n), transitions
