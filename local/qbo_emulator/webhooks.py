"""Signed webhook notifications, delivered from a background thread.

Sources: docs/qbo-facts.md "Webhooks"; payload shapes webhook-legacy.json (``eventNotifications``) and
webhook-cloudevents.json (a top-level JSON *array* of CloudEvents, ``type`` like
``qbo.customer.created.v1``, ``intuitaccountid`` = realm, ``intuitentityid`` = entity id);
``intuit-signature`` = base64(HMAC-SHA256(raw body, verifier token)), checked against
webhook-signature-vectors.json in the tests.

Changes are collected for ``webhook_batch_window_seconds`` (emulator time; 60 s by default, as a
production app's aggregation) and sent as one POST per app. Non-200 answers, timeouts and connection
errors are retried after the delays of ``webhook_retry_schedule`` (Intuit's: 0 s, 10 s, 20 s, 30 s,
5 min, 20 min, 2 h, 4 h, 6 h), then every ``webhook_retry_repeat_seconds`` (6 h) up to
``webhook_retry_max_attempts`` (a guess: Intuit documents no end), all in emulator seconds so
``time_scale`` compresses them. While a delivery of an app waits for its retry, **the app's later
deliveries wait behind it** (Intuit: no later event is delivered until the failed one is
acknowledged); they go out, in order, once it is answered 200 or given up. Switches make deliveries go
missing (``drop_next``), arrive twice (``duplicate_next``), late (``delay_seconds``) or in reverse order
(``reorder``), as Intuit's do; ``enabled=False`` loses every change; ``outage=True`` is an app-wide
outage on Intuit's side: nothing is sent (changes keep being collected) until it is switched off, then
everything held goes out in order.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests

from .timefmt import fmt_utc_z_ms, fmt_utc_z_ns

if TYPE_CHECKING:
    from .core import Emulator

log = logging.getLogger(__name__)

PAST = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Merge": "merged",
    "Emailed": "emailed",
}


def sign(body: bytes, verifier_token: str) -> str:
    return base64.b64encode(hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def legacy_payload(events_by_realm: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "eventNotifications": [
            {
                "realmId": realm,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": e["name"],
                            "id": e["id"],
                            "operation": e["operation"],
                            "lastUpdated": e["lastUpdated"],
                        }
                        for e in events
                    ]
                },
            }
            for realm, events in events_by_realm.items()
        ]
    }


def cloudevents_payload(
    events_by_realm: dict[str, list[dict[str, Any]]], source: str
) -> list[dict[str, Any]]:
    out = []
    for realm, events in events_by_realm.items():
        for e in events:
            out.append(
                {
                    "specversion": "1.0",
                    "id": str(uuid.uuid4()),
                    "source": source,
                    "type": f"qbo.{e['name'].lower()}.{PAST.get(e['operation'], e['operation'].lower())}.v1",
                    "datacontenttype": "application/json",
                    "time": e["time_ns"],
                    "intuitentityid": e["id"],
                    "intuitaccountid": realm,
                    "data": {},
                }
            )
    return out


@dataclass
class Switches:
    enabled: bool = True
    drop_next: int = 0
    duplicate_next: int = 0
    delay_seconds: float = 0.0  # emulator seconds added before the first attempt
    reorder: bool = False
    outage: bool = False  # Intuit sends nothing (deliveries are held, not lost) until switched off

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Delivery:
    id: int
    client_id: str
    url: str
    body: bytes
    signature: str
    format: str
    realms: list[str]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    dropped: bool = False
    gave_up: bool = False
    duplicate_of: int | None = None
    stalled_behind: int | None = None  # id of the failed delivery it waited behind (if it ever did)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_id": self.client_id,
            "url": self.url,
            "body": self.body.decode("utf-8"),
            "signature": self.signature,
            "format": self.format,
            "realms": self.realms,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "gave_up": self.gave_up,
            "duplicate_of": self.duplicate_of,
            "stalled_behind": self.stalled_behind,
        }


class WebhookDispatcher:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.switches = Switches()
        self._cv = threading.Condition()
        self._pending: list[tuple[str, dict[str, Any]]] = []  # (realm, event)
        self._first_pending: float | None = None
        self._heap: list[tuple[float, int, Delivery, int]] = []  # (due real time, seq, delivery, attempt)
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self.deliveries: list[Delivery] = []
        self._failing: dict[str, Delivery] = {}  # client id -> its delivery waiting for a retry
        self._held: dict[str, list[Delivery]] = {}  # client id -> deliveries stalled behind it
        self._stop = False
        self._busy = 0
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="qbo-emulator-webhooks", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producer side
    def emit(self, realm: str, changes: list[tuple[str, str, str, datetime]]) -> None:
        if not changes:
            return
        with self._cv:
            for entity, obj_id, op, when in changes:
                self._pending.append(
                    (
                        realm,
                        {
                            "name": entity,
                            "id": obj_id,
                            "operation": op,
                            "lastUpdated": fmt_utc_z_ms(when),
                            "time_ns": fmt_utc_z_ns(when),
                        },
                    )
                )
            if self._first_pending is None:
                self._first_pending = time.monotonic()
            self._cv.notify_all()

    def reset(self) -> None:
        with self._cv:
            self._pending.clear()
            self._first_pending = None
            self._heap.clear()
            self.deliveries.clear()
            self._failing.clear()
            self._held.clear()
            self.switches = Switches()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=5)
        self._session.close()

    def idle(self) -> bool:
        with self._cv:
            held = any(self._held.values())
            return not self._pending and not self._heap and not held and self._busy == 0

    def switches_changed(self) -> None:
        """Wake the sender (an outage may have ended)."""
        with self._cv:
            self._cv.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.idle():
                return True
            time.sleep(0.02)
        return self.idle()

    def listing(self) -> list[dict[str, Any]]:
        with self._cv:
            return [d.as_dict() for d in self.deliveries]

    # ------------------------------------------------------------------ consumer side
    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stop:
                    return
                now = time.monotonic()
                window = self.emu.state.clock.real_seconds(self.emu.state.config.webhook_batch_window_seconds)
                timeout = 0.5
                flush = False
                if self._first_pending is not None:
                    due = self._first_pending + window
                    if now >= due:
                        flush = True
                    else:
                        timeout = min(timeout, due - now)
                next_send = None
                if self.switches.outage:
                    pass  # Intuit sends nothing; what is due waits in the heap
                elif self._heap and self._heap[0][0] <= now:
                    next_send = heapq.heappop(self._heap)
                    failing = self._failing.get(next_send[2].client_id)
                    if failing is not None and failing is not next_send[2]:
                        # the app's stream is stalled behind a failed delivery: wait behind it
                        next_send[2].stalled_behind = failing.id
                        self._held.setdefault(failing.client_id, []).append(next_send[2])
                        next_send = None
                        continue
                    self._busy += 1
                elif self._heap:
                    timeout = min(timeout, self._heap[0][0] - now)
                if not flush and next_send is None:
                    self._cv.wait(timeout=max(0.005, timeout))
                    continue
                batch: list[tuple[str, dict[str, Any]]] = []
                if flush:
                    batch, self._pending = self._pending, []
                    self._first_pending = None
                    if batch:  # not idle until it is scheduled: wait_idle() must not slip in between
                        self._busy += 1
            if batch:
                try:
                    self._schedule(batch)
                except Exception:  # never let the thread die
                    log.exception("webhook batching failed")
                finally:
                    with self._cv:
                        self._busy -= 1
            if next_send is not None:
                try:
                    self._attempt(next_send[2], next_send[3])
                finally:
                    with self._cv:
                        self._busy -= 1

    def _schedule(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        emu = self.emu
        with emu.state.lock:
            apps = list(emu.oauth.apps.values())
            connected = {(g.client_id, g.realm) for g in emu.oauth.live_grants()}
        sw = self.switches
        if not sw.enabled:
            return
        new: list[Delivery] = []
        for app in apps:
            if not app.webhook_url:
                continue
            by_realm: dict[str, list[dict[str, Any]]] = {}
            for realm, event in batch:
                if (app.client_id, realm) in connected:
                    by_realm.setdefault(realm, []).append(event)
            if not by_realm:
                continue
            if sw.reorder:
                by_realm = {r: list(reversed(ev)) for r, ev in reversed(list(by_realm.items()))}
            if app.webhook_format == "cloudevents":
                source = (
                    "intuit." + base64.b64encode(hashlib.sha256(app.client_id.encode()).digest()).decode()
                )
                payload: Any = cloudevents_payload(by_realm, source)
            else:
                payload = legacy_payload(by_realm)
            body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
            new.append(
                Delivery(
                    next(self._ids),
                    app.client_id,
                    app.webhook_url,
                    body,
                    sign(body, app.verifier_token),
                    app.webhook_format,
                    sorted(by_realm),
                )
            )
        if sw.reorder:
            new.reverse()
        delay = emu.state.clock.real_seconds(sw.delay_seconds)
        with self._cv:
            for d in new:
                self.deliveries.append(d)
                if sw.drop_next > 0:
                    sw.drop_next -= 1
                    d.dropped = True
                    continue
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), d, 0))
                if sw.duplicate_next > 0:
                    sw.duplicate_next -= 1
                    dup = Delivery(
                        next(self._ids),
                        d.client_id,
                        d.url,
                        d.body,
                        d.signature,
                        d.format,
                        d.realms,
                        duplicate_of=d.id,
                    )
                    self.deliveries.append(dup)
                    heapq.heappush(self._heap, (time.monotonic() + delay + 0.01, next(self._seq), dup, 0))
            self._cv.notify_all()

    def _attempt(self, d: Delivery, attempt: int) -> None:
        headers = {
            "Content-Type": "application/json",
            "intuit-signature": d.signature,
            "User-Agent": "Intuit-Webhooks/emulator",
        }
        record: dict[str, Any] = {"attempt": attempt + 1, "at": fmt_utc_z_ms(self.emu.state.now())}
        ok = False
        try:
            resp = self._session.post(
                d.url, data=d.body, headers=headers, timeout=self.emu.state.config.webhook_timeout_seconds
            )
            record["status"] = resp.status_code
            ok = resp.status_code == 200
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
        config = self.emu.state.config
        schedule = config.webhook_retry_schedule
        with self._cv:
            d.attempts.append(record)
            delay: float | None = None
            if ok:
                d.delivered = True
            elif attempt + 1 >= config.webhook_retry_max_attempts:
                d.gave_up = True
            elif attempt < len(schedule):
                delay = schedule[attempt]
            elif config.webhook_retry_repeat_seconds is not None:
                delay = config.webhook_retry_repeat_seconds
            else:
                d.gave_up = True
            if delay is not None:
                self._failing.setdefault(d.client_id, d)
                due = time.monotonic() + self.emu.state.clock.real_seconds(delay)
                heapq.heappush(self._heap, (due, next(self._seq), d, attempt + 1))
            elif self._failing.get(d.client_id) is d:
                # answered (or given up): the deliveries stalled behind it go out, in order
                del self._failing[d.client_id]
                for held in self._held.pop(d.client_id, []):
                    heapq.heappush(self._heap, (time.monotonic(), next(self._seq), held, 0))
            self._cv.notify_all()
