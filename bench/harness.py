"""What every workload needs: a local stack, a connected company, Kyrios documents, faults, the baseline.

The stack is :class:`local.runner.LocalBundle` (template.yaml wired as AWS would); companies are
connected through the real OAuth flow with the demo's actors (the Kyrios UI and a QuickBooks user).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.counting import install
from bench.log_volume import counting_logs
from local.demo_steps.actors import BusListener, KyriosCore, KyriosUi, QboUser
from local.qbo_emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from local.runner import CALLBACK_PATH, LocalBundle

REPO = Path(__file__).resolve().parent.parent
BASELINE_PYTHON = REPO / ".venv-bench" / "bin" / "python"


class BenchError(RuntimeError):
    """A workload could not be measured (the stack or the baseline did not do what was asked)."""


def quiet() -> None:
    """Keep the bench's own loggers to errors. The functions keep the production configuration (the
    template's LogLevel, metrics on): their output goes to the run's function-output file, not the
    table, and its bytes are counted (``bench/log_volume.py``). Tracing stays off locally (no X-Ray
    daemon, and Powertools' Tracer is off outside Lambda anyway): X-Ray is priced from the count of
    traced invocations instead."""
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    logging.basicConfig(level=logging.CRITICAL)
    warnings.filterwarnings("ignore")
    for name in ("local", "werkzeug", "botocore", "moto"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextmanager
def running_stack(stage: str, **options: Any) -> Iterator[LocalBundle]:
    """A local stack just for one workload (its own stage, so tables and queues are its own), in the
    template's configuration (its default LogLevel, as every deployed stage has), its functions'
    output counted by :data:`bench.log_volume.LOGS`."""
    install()
    options.setdefault("schedule_interval", 3600.0)  # the poller's tick fires only when a workload fires it
    # Latency is measured from the webhook reaching us; the emulator's production-like 60 s aggregation
    # would only add a constant wait per sample.
    options.setdefault("webhook_window_seconds", 0.5)
    stack = LocalBundle.start(stage=f"bench{stage}{uuid.uuid4().hex[:4]}", **options)
    importlib.import_module("kyrios_qbo.observability")  # the Powertools logger whose stream is counted
    try:
        with counting_logs():
            yield stack
    finally:
        stack.stop()


@dataclass
class Connected:
    account_id: str
    realm_id: str


def connect(stack: LocalBundle, realm_id: str, country: str = "US", name: str | None = None) -> Connected:
    """A new emulator company, connected to a new Kyrios account through consent page, callback and the
    page's completion."""
    control = stack.emulator.control
    if realm_id not in {c["realm_id"] for c in control.companies()}:
        control.add_company(realm_id, name or f"Bench {country} {realm_id[-4:]}", country)
    account_id = f"acct-bench-{uuid.uuid4().hex[:10]}"
    ui = KyriosUi(stack.api_url, stack.dev_token(account_id))
    landing = QboUser(control, realm_id).approve(ui.connect())
    outcome = ui.finish_connect(landing.url)
    if outcome.get("quickbooks") != "connected":
        raise BenchError(f"connecting {realm_id} ended with {outcome}")
    return Connected(account_id, realm_id)


def new_realm() -> str:
    return str(9_300_000_000_000_000 + uuid.uuid4().int % 100_000_000_000_000)


# ---------------------------------------------------------------------------- Kyrios documents
@dataclass(frozen=True)
class Document:
    """One sale as both sides push it: a Kyrios event for ours, python-quickbooks objects for the baseline."""

    kind: str  # "invoice" | "receipt"
    kyrios_id: str
    number: str
    customer_name: str
    customer_email: str
    lines: tuple[tuple[str, str, int, str], ...]  # (product id, product name, quantity, unit price)
    currency: str = "USD"

    @property
    def total(self) -> str:
        return f"{sum(q * float(p) for _i, _n, q, p in self.lines):.2f}"

    def for_baseline(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "number": self.number,
            "date": date.today().isoformat(),
            "customer_name": self.customer_name,
            "customer_email": self.customer_email,
            "lines": [{"product": name, "quantity": q, "unit_price": p} for _i, name, q, p in self.lines],
        }

    def kyrios_event(self, account_id: str) -> tuple[str, dict[str, Any]]:
        """(detail type, detail) of the Kyrios event carrying this document (created after connecting)."""
        now = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines = [
            {
                "line_id": f"li_{n}",
                "product": {"id": product_id, "name": name},
                "quantity": str(quantity),
                "unit_price": price,
                "taxes": [],
            }
            for n, (product_id, name, quantity, price) in enumerate(self.lines, 1)
        ]
        totals = {"subtotal": self.total, "discount_total": "0.00", "tax_total": "0.00", "total": self.total}
        given, _, family = self.customer_name.partition(" ")
        customer = {"given_name": given, "family_name": family, "email": self.customer_email}
        common = {
            "currency": self.currency,
            "prices_include_tax": False,
            "customer": customer,
            "lines": lines,
        }
        detail: dict[str, Any] = {
            "event_id": f"evt_{uuid.uuid4().hex[:20]}",
            "account_id": account_id,
            "occurred_at": now,
        }
        if self.kind == "invoice":
            detail["invoice"] = {
                **common,
                "id": self.kyrios_id,
                "number": self.number,
                "version": 1,
                "status": "sent",
                "created_at": now,
                "issue_date": date.today().isoformat(),
                "due_date": (date.today() + timedelta(days=30)).isoformat(),
                "payments": [],
                "source": {"kind": "kyrios"},
                "totals": totals,
            }
            return "invoice.sent", detail
        detail["payment"] = {
            **common,
            "id": self.kyrios_id,
            "source": "order_form",
            "source_id": f"of_{self.kyrios_id}",
            "version": 1,
            "paid_at": now,
            "amount": self.total,
            "method": "card",
            "totals": totals,
        }
        return "payment.completed", detail


def documents(
    count: int, *, kind: str = "invoice", customers: int = 20, products: int = 5, tag: str = ""
) -> list[Document]:
    """``count`` documents over a small set of customers and products (so most are already known)."""
    tag = tag or uuid.uuid4().hex[:5]
    out = []
    for n in range(count):
        c = n % customers
        first = (n * 7) % products
        second = (first + 1) % products
        out.append(
            Document(
                kind=kind,
                kyrios_id=f"{kind[:3]}_{tag}_{n:05d}",
                number=f"B{tag}-{n:05d}"[:21],
                customer_name=f"Client{tag} {c:03d}",
                customer_email=f"client{c:03d}.{tag}@example.com",
                lines=(
                    (f"prod_{tag}_{first}", f"Service {tag} {first}", 1 + n % 3, f"{40 + first * 5}.00"),
                    (f"prod_{tag}_{second}", f"Service {tag} {second}", 1, f"{15 + second}.50"),
                ),
            )
        )
    return out


def publish_all(stack: LocalBundle, account_id: str, docs: list[Document]) -> None:
    """Put each document's event on the bus as Kyrios core does (one event per document)."""
    core = KyriosCore(stack.client("events"), stack.resources.event_bus_name)
    for doc in docs:
        detail_type, detail = doc.kyrios_event(account_id)
        core.publish(detail_type, detail)


def bus_listener(stack: LocalBundle) -> BusListener:
    return BusListener(stack.client("sqs"), stack.client("events"), stack.resources.event_bus_name)


# ---------------------------------------------------------------------------- faults
class ResetAfterWrite:
    """Keeps the fraction of ``POST <endpoint>`` calls to one company that lose their answer after QBO
    wrote (connection reset) near ``rate``: the emulator's faults hit "the next N calls", so a thread
    adds one more whenever the company's write count passes the next multiple of 1/rate."""

    def __init__(self, stack: LocalBundle, realm_id: str, rate: float, endpoint: str = "invoice") -> None:
        self.control = stack.emulator.control
        self.realm_id = realm_id
        self.every = max(1, round(1 / rate)) if rate > 0 else 0
        self.endpoint = endpoint
        self.injected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-faults", daemon=True)

    def __enter__(self) -> ResetAfterWrite:
        if self.every:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.control.clear_faults()

    def _writes(self) -> int:
        counts = self.control.request_counts().get(self.realm_id, {})
        return int(counts.get(f"POST {self.endpoint}", 0))

    def _run(self) -> None:
        start = self._writes()
        while not self._stop.wait(0.05):
            due = (self._writes() - start) // self.every + 1
            pending = len(self.control.faults())
            if self.injected < due and pending == 0:
                self.control.inject_fault(
                    kind="reset",
                    method="POST",
                    path=f"/{self.endpoint}$",
                    realm=self.realm_id,
                    after_write=True,
                )
                self.injected += 1


# ---------------------------------------------------------------------------- the baseline
def baseline_available() -> bool:
    return BASELINE_PYTHON.exists()


def run_baseline(
    stack: LocalBundle, realm_id: str, task: str, timeout: float, competent: bool = False, **job: Any
) -> dict[str, Any]:
    """Run a python-quickbooks job in its own virtualenv and process, with a fresh token: the naive
    baseline (``bench/baseline.py``) or, with ``competent``, ``bench/baseline_competent.py`` (push only)."""
    if not baseline_available():
        raise BenchError(
            f"{BASELINE_PYTHON} is missing: create it with `make bench` (requirements-bench.txt)"
        )
    emulator = stack.emulator
    tokens = emulator.control.issue_tokens(realm_id)
    full_job = {
        "task": task,
        "api_url_v3": f"{emulator.url}/v3",
        "discovery_url": emulator.discovery_url,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "redirect_uri": stack.api_url + CALLBACK_PATH,
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "realm_id": realm_id,
        **job,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env["PYTHONPATH"] = str(REPO)
    # requests-oauthlib refuses http:// URLs; the emulator is plain HTTP on loopback.
    env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    answer = subprocess.run(  # noqa: S603 - the bench virtualenv's interpreter and our module
        [str(BASELINE_PYTHON), "-m", "bench.baseline_competent" if competent else "bench.baseline"],
        input=json.dumps(full_job),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
        check=False,
    )
    if answer.returncode != 0:
        raise BenchError(f"baseline {task} failed: {answer.stderr[-2000:]}")
    return dict(json.loads(answer.stdout))


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def python() -> str:
    return sys.executable
