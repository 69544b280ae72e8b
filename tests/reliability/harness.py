"""What the reliability tests share: the profile (short for ``make test``, long for ``make soak``), the
counts they report, the scan of every log line for secrets, a Lambda-timeout "kill" of the pusher,
and a few actors on top of the demo's (``local.demo_steps.actors``).

Everything goes through public surfaces of a running :class:`local.runner.LocalBundle`: the front door
(UI), the bus (Kyrios core), the emulator's consent page and control API (a QuickBooks user and the
fault injector). The only private reads are of the in-process emulator's OAuth store, to learn which
tokens and codes it issued (so the log scan knows what to look for) and how often a grant rotated.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.demo_steps.actors import KyriosUi, QboUser
from local.demo_steps.report import wait_until
from local.qbo_emulator import DEFAULT_CLIENT_SECRET, DEFAULT_VERIFIER_TOKEN
from local.runner import LocalBundle


# ---------------------------------------------------------------------------- profile
@dataclass(frozen=True)
class Profile:
    """How much work a run does. ``RELIABILITY_PROFILE=soak`` (``make soak``) multiplies it."""

    name: str
    seed: int
    scale: int
    fuzz_examples: int
    api_examples: int

    def n(self, base: int) -> int:
        return base * self.scale


def profile() -> Profile:
    seed = int(os.environ.get("RELIABILITY_SEED", "20260511"))
    if os.environ.get("RELIABILITY_PROFILE", "short") == "soak":
        scale = int(os.environ.get("RELIABILITY_SCALE", "4"))
        return Profile("soak", seed, scale, fuzz_examples=60 * scale, api_examples=25 * scale)
    return Profile("short", seed, 1, fuzz_examples=40, api_examples=6)


# ---------------------------------------------------------------------------- counts
@dataclass
class Counts:
    """Counters of one test, reported through ``record_property`` and summed by ``report.py``."""

    values: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.values[name] += amount

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return dict(self.values)


# ---------------------------------------------------------------------------- secrets in logs
class LogCapture(logging.Handler):
    """Every record of the Powertools logger, formatted exactly as the functions print it."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        if formatter is not None:
            self.setFormatter(formatter)
        self.lines: list[str] = []
        self._lines_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is still scanned as raw text
            line = f"{record.getMessage()} {record.__dict__}"
        with self._lines_lock:
            self.lines.append(line)

    def since(self, start: int) -> list[str]:
        with self._lines_lock:
            return self.lines[start:]

    def __len__(self) -> int:
        with self._lines_lock:
            return len(self.lines)


class SecretWatch:
    """Everything secret the emulator handed out, collected while tests run.

    The emulator drops access tokens when a grant is revoked, so its OAuth store is read every 100 ms
    (and once more on demand) and what was seen is kept.
    """

    def __init__(self, stack: LocalBundle) -> None:
        self.emulator = stack.emulator.emulator
        self.known: set[str] = {DEFAULT_CLIENT_SECRET, DEFAULT_VERIFIER_TOKEN}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reliability-secret-watch", daemon=True)
        self._thread.start()

    def collect(self) -> set[str]:
        oauth = self.emulator.oauth
        with self.emulator.state.lock:
            found = set(oauth.access) | set(oauth.refresh_index) | set(oauth.codes)
            for grant in oauth.grants.values():
                found.add(grant.refresh_token)
                found.update(grant.old_refresh)
            for app in oauth.apps.values():
                found.update((app.client_secret, app.verifier_token))
        self.known |= {value for value in found if value and len(value) >= 8}
        return set(self.known)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.collect()
            except Exception:  # the emulator is stopping
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def leaked(lines: list[str], secrets: set[str]) -> list[str]:
    """Log lines carrying any of ``secrets`` (the secret itself is masked in the answer)."""
    found = []
    for line in lines:
        for secret in secrets:
            if secret in line:
                found.append(line.replace(secret, f"<{len(secret)}-char secret>")[:400])
    return found


# ---------------------------------------------------------------------------- the pusher, killed
class SimulatedLambdaTimeout(RuntimeError):
    """Lambda ended the invocation: nothing of the batch was acknowledged."""


class PusherKiller:
    """Replaces the push queue poller's invoke: with probability ``rate`` (seeded) an invocation is
    ended like a Lambda timeout — either after the handler did all its QBO writes (``after``), or while
    it is still working (``during``: the caller gives up after a random few hundred ms). Either way
    the poller sees an invocation error and every message of the batch returns to the queue.

    A thread given up on keeps running (a real Lambda would be frozen; continuing is the harsher case:
    its writes race with the redelivered copies).
    """

    def __init__(self, stack: LocalBundle, rng: random.Random, rate: float, counts: Counts) -> None:
        self.poller = stack.poller("PusherFunction")
        self.original = self.poller.invoke
        self.rng = rng
        self.rate = rate
        self.counts = counts
        self._lock = threading.Lock()
        # The first two invocations are always killed, once each way, however few batches a run has.
        self._forced = ["after", "during"]

    def _draw(self) -> tuple[str | None, float]:
        with self._lock:
            if self._forced:
                return self._forced.pop(0), self.rng.uniform(0.05, 0.2)
            if self.rng.random() >= self.rate:
                return None, 0.0
            return self.rng.choice(("after", "during")), self.rng.uniform(0.05, 0.4)

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        mode, wait = self._draw()
        if mode is None:
            return self.original(function_id, event)
        records = len(event.get("Records", []))
        if mode == "after":
            self.original(function_id, event)
            self.counts.add("pusher_kills_after_write")
            self.counts.add("messages_returned_by_kills", records)
            raise SimulatedLambdaTimeout(f"batch of {records} ended after the handler's QBO writes")
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = self.original(function_id, event)
            except Exception as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="pusher-abandoned", daemon=True)
        worker.start()
        worker.join(wait)
        if not worker.is_alive():
            if "error" in outcome:
                raise outcome["error"]
            return outcome["result"]
        self.counts.add("pusher_kills_mid_batch")
        self.counts.add("messages_returned_by_kills", records)
        raise SimulatedLambdaTimeout(f"batch of {records} abandoned after {wait:.2f} s")

    def __enter__(self) -> PusherKiller:
        self.poller.invoke = self.invoke
        return self

    def __exit__(self, *exc: object) -> None:
        self.poller.invoke = self.original


# ---------------------------------------------------------------------------- faults
FAULT_PATHS = (
    r"/invoice",
    r"/payment",
    r"/salesreceipt",
    r"/customer",
    r"/item",
    r"/query",
    r"/cdc",
    r"/companyinfo",
    r"/preferences",
    r"/oauth2/v1/tokens/bearer",
)
FAULT_KINDS = ("500", "503", "429", "reset") * 3 + ("timeout",)
"""Timeouts cost real seconds (the client's HTTP timeout), so they are drawn less often."""
WRITE_PATHS = {r"/invoice", r"/payment", r"/salesreceipt", r"/customer", r"/item"}


class FaultInjector:
    """Seeded random batches of faults through the emulator's control API (count-based rules)."""

    def __init__(
        self, stack: LocalBundle, rng: random.Random, counts: Counts, timeout_seconds: float
    ) -> None:
        self.control = stack.emulator.control
        self.rng = rng
        self.counts = counts
        self.timeout_seconds = timeout_seconds
        self.total = 0

    def batch(self, n: int, realm: str) -> None:
        for _ in range(n):
            path = self.rng.choice(FAULT_PATHS)
            kind = self.rng.choice(FAULT_KINDS)
            after_write = path in WRITE_PATHS and self.rng.random() < 0.4
            oauth = "oauth2" in path
            count = self.rng.randint(1, 2)
            self.total += count
            self.control.inject_fault(
                kind,
                count=count,
                method="POST" if after_write or oauth else None,
                path=path,
                realm=None if oauth else realm,  # OAuth calls carry no realm
                after_write=after_write,
                seconds=self.timeout_seconds,
            )
            self.counts.add("fault_rules_injected")
            self.counts.add(f"fault_{kind}{'_after_write' if after_write else ''}")

    def waiting(self) -> int:
        """Faults injected but not yet hit by any call."""
        return sum(int(rule["count"]) for rule in self.control.faults())

    def hit(self) -> int:
        return self.total - self.waiting()


# ---------------------------------------------------------------------------- accounts
@dataclass
class Company:
    account_id: str
    realm_id: str
    name: str
    ui: KyriosUi
    user: QboUser


def new_realm() -> str:
    return str(9_300_000_000_000_000 + uuid.uuid4().int % 1_000_000_000_000_000)


def connect_company(stack: LocalBundle, country: str = "GB", label: str = "rel") -> Company:
    """A new emulator company connected to a new Kyrios account through the real consent flow."""
    control = stack.emulator.control
    realm = new_realm()
    account = f"acct-{label}-{uuid.uuid4().hex[:10]}"
    name = f"Reliability {country} {realm[-5:]}"
    control.add_company(realm, name, country)
    ui = KyriosUi(stack.api_url, stack.dev_token(account))
    user = QboUser(control, realm)
    landing = user.approve(ui.connect())
    outcome = ui.finish_connect(landing.url)
    assert outcome.get("quickbooks") == "connected", f"connect {account} → {realm}: {outcome}"
    return Company(account, realm, name, ui, user)


def grant_rotations(stack: LocalBundle, realm_id: str) -> int:
    """How many times the live grant of the company rotated its refresh token (= refreshes)."""
    emulator = stack.emulator.emulator
    with emulator.state.lock:
        grants = [g for g in emulator.oauth.grants.values() if g.realm == realm_id and not g.revoked]
        return sum(len(g.old_refresh) for g in grants)


def disconnect(company: Company) -> None:
    """End of a test: the schedule stops polling this company (keeps later tests' counts clean)."""
    company.ui.disconnect()


# ---------------------------------------------------------------------------- queues
def drain_dead_letters(stack: LocalBundle, timeout: float = 1.5) -> list[dict[str, Any]]:
    """Take every message off the push DLQ, with attributes."""
    sqs = stack.client("sqs")
    url = stack.resources.queues["PushDeadLetterQueue"].url
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        messages = answer.get("Messages", [])
        if not messages:
            if stack.queue_depth("PushDeadLetterQueue") == 0:
                break
            time.sleep(0.1)
            continue
        for message in messages:
            found.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def reason_of(message: dict[str, Any]) -> str | None:
    value = message.get("MessageAttributes", {}).get("failure_reason", {}).get("StringValue")
    return str(value) if value else None


def detail_of(message: dict[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        return {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, dict) else {}


@contextmanager
def function_environment(stack: LocalBundle, **variables: str) -> Iterator[None]:
    """Set variables in every function's environment (the runner re-applies it on each invocation)."""
    from kyrios_qbo.config import get_settings

    saved = {fid: dict(fn.environment) for fid, fn in stack.functions.items()}
    for fn in stack.functions.values():
        fn.environment.update(variables)
    os.environ.update(variables)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for fid, fn in stack.functions.items():
            fn.environment.clear()
            fn.environment.update(saved[fid])
        for name in variables:
            original = stack.environment.get(name)
            if original is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = original
        get_settings.cache_clear()


def settle(stack: LocalBundle, timeout: float = 30.0) -> bool:
    stack.emulator.control.wait_webhooks(timeout=5)
    return bool(stack.wait_idle(timeout=timeout))


def eventually(probe: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    return wait_until(probe, timeout, interval)
