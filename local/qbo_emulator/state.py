"""In-memory state of the emulator: companies and their objects, apps, the clock, the request log.

One re-entrant lock (``EmulatorState.lock``) guards everything; handlers hold it for the whole
operation, so each API call is atomic as in QBO. Slow things (injected timeouts, webhook delivery,
the modelled refresh latency) happen outside the lock.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .timefmt import fmt_time

UTC = UTC


class Clock:
    """Emulator time: real time scaled by ``time_scale`` plus manual advances.

    ``time_scale=60`` makes an emulator minute last one real second. Token lifetimes, rate-limit
    windows, CDC look-back, webhook retry back-off and MetaData timestamps all use this clock.
    """

    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._scale = float(time_scale)
        self._anchor_real = time.monotonic()
        self._anchor_emu = (start or datetime.now(UTC)).astimezone(UTC)

    @property
    def time_scale(self) -> float:
        return self._scale

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._anchor_real) * self._scale
            return self._anchor_emu + timedelta(seconds=elapsed)

    def _reanchor(self) -> None:
        now = self.now()
        with self._lock:
            self._anchor_real = time.monotonic()
            self._anchor_emu = now

    def advance(self, seconds: float) -> datetime:
        self._reanchor()
        with self._lock:
            self._anchor_emu += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime) -> None:
        with self._lock:
            self._anchor_real = time.monotonic()
            self._anchor_emu = when.astimezone(UTC)

    def set_scale(self, scale: float) -> None:
        self._reanchor()
        with self._lock:
            self._scale = float(scale)

    def real_seconds(self, emulator_seconds: float) -> float:
        return emulator_seconds / self._scale if self._scale > 0 else emulator_seconds

    def sleep(self, emulator_seconds: float) -> None:
        time.sleep(max(0.0, self.real_seconds(emulator_seconds)))


@dataclass
class EmulatorConfig:
    time_scale: float = 1.0
    rate_limits: bool = True
    per_second: int | None = None  # off: Intuit limits concurrency (max_concurrent), see ratelimit.py
    max_concurrent: int = 10  # requests in flight per company
    per_minute: int = 500
    batch_per_minute: int = 40
    retry_after: int | None = None  # seconds for a Retry-After header on 429; None = no header
    code_ttl_seconds: float = 300.0
    access_ttl_seconds: int = 3600
    refresh_ttl_seconds: int = 100 * 24 * 3600
    refresh_hard_ttl_seconds: int = 5 * 365 * 24 * 3600
    refresh_grace_seconds: float = 0.0
    refresh_rotation: str = "daily"  # "daily": Intuit's ~24 h rule (oauth.py); "strict": every refresh
    refresh_rotation_seconds: float = 24 * 3600.0
    refresh_latency_seconds: float = 0.05  # real seconds a refresh stays "in flight" (race window)
    # Webhooks (webhooks.py, README "Webhooks"): changes are aggregated over this many emulator seconds
    # (production apps choose 1, 3 or 5 minutes; the local stack, the demo and the tests shorten it)
    webhook_batch_window_seconds: float = 60.0
    # delays (emulator seconds) before each retry of a delivery answered with anything but 200:
    # Intuit's documented 0 s, 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h ...
    webhook_retry_schedule: list[float] = field(
        default_factory=lambda: [0.0, 10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0]
    )
    webhook_retry_repeat_seconds: float | None = 21600.0  # ... "then every 6 hours"; None: give up
    webhook_retry_max_attempts: int = 30  # GUESS: Intuit documents no end; ~6 days at the defaults
    webhook_timeout_seconds: float = 3.0  # real seconds; Intuit wants an answer within 3 s
    cdc_max_objects: int = 1000
    cdc_lookback_days: int = 30
    query_max_results: int = 1000
    batch_max_items: int = 30
    # what a new company holds when add_company does not say: "sandbox" (a fresh Intuit sandbox
    # company, sandbox_seed.py) or "minimal" (accounts, item 1 and tax setup only)
    default_seed: str = "sandbox"
    # Supplied tax amounts (totals.py, README "Supplied tax amounts"): honoured as the cited evidence
    # shows; ``False`` makes every transaction recompute (a QBO that ignores them). A supplied TaxLine
    # further than ``supplied_tax_max_delta`` from QBO's own amount is recomputed (None: no limit; a guess).
    supplied_tax_honoured: bool = True
    supplied_tax_max_delta: float | None = None

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(key)
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Record:
    entity: str
    id: str
    data: dict[str, Any]
    created: datetime
    updated: datetime
    seq: int = 0
    deleted: bool = False
    next_line_id: int = 1


ID_GROUPS = {
    "Customer": "name",
    "Vendor": "name",
    "Employee": "name",
    "Invoice": "txn",
    "Payment": "txn",
    "SalesReceipt": "txn",
    "Estimate": "txn",
    "CreditMemo": "txn",
    "Bill": "txn",
    # QBO numbers every transaction from one sequence (E for the entities below, as for the ones above)
    "Deposit": "txn",
    "RefundReceipt": "txn",
    "Purchase": "txn",
    "BillPayment": "txn",
    "PurchaseOrder": "txn",
    "Transfer": "txn",
    "CreditCardPayment": "txn",
}


@dataclass
class Company:
    realm_id: str
    name: str
    country: str  # alpha-2 (alpha-3 accepted on input)
    home_currency: str
    tz: str
    multi_currency: bool = False
    ast_rate: Decimal | None = None  # US automated sales tax: one flat rate per company
    automated_sales_tax: bool = True  # US: false = manual sales tax (TxnTaxCodeRef per transaction)
    records: dict[str, dict[str, Record]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    doc_numbers: dict[str, int] = field(default_factory=dict)
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # normalised DisplayName -> (entity, id)

    @property
    def is_us(self) -> bool:
        return self.country in ("US", "USA")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.zone)

    def today(self, now: datetime) -> date:
        return self.local(now).date()

    def next_id(self, entity: str, start: int = 1) -> str:
        group = ID_GROUPS.get(entity, entity)
        value = max(self.sequences.get(group, start - 1) + 1, start)
        self.sequences[group] = value
        return str(value)

    def reserve_id(self, entity: str, rid: int) -> None:
        """The next ``next_id(entity)`` answers ``rid`` (seeding with known sandbox ids)."""
        self.sequences[ID_GROUPS.get(entity, entity)] = rid - 1

    def next_doc_number(self, entity: str) -> str:
        value = self.doc_numbers.get(entity, 1000) + 1
        self.doc_numbers[entity] = value
        return str(value)

    def table(self, entity: str) -> dict[str, Record]:
        return self.records.setdefault(entity, {})

    def get(self, entity: str, obj_id: str, include_deleted: bool = False) -> Record | None:
        rec = self.records.get(entity, {}).get(str(obj_id))
        if rec is None or (rec.deleted and not include_deleted):
            return None
        return rec

    def live(self, entity: str) -> list[Record]:
        return [r for r in self.records.get(entity, {}).values() if not r.deleted]


@dataclass
class LoggedRequest:
    time: str
    method: str
    path: str
    endpoint: str
    realm: str
    status: int
    minorversion: str | None
    requestid: str | None
    intuit_tid: str
    query: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RequestLog:
    """Every request the emulator answered, with counts per endpoint and realm (benchmarks use it)."""

    def __init__(self, keep: int = 20000) -> None:
        self.entries: deque[LoggedRequest] = deque(maxlen=keep)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.unexpected_errors = 0  # emulator bugs turned into SystemFault 500s

    def add(self, entry: LoggedRequest) -> None:
        self.entries.append(entry)
        self.counts[(entry.realm, entry.endpoint)] += 1

    def clear(self) -> None:
        self.entries.clear()
        self.counts.clear()
        self.unexpected_errors = 0

    def counts_by_realm(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (realm, endpoint), n in sorted(self.counts.items()):
            out.setdefault(realm, {})[endpoint] = n
        return out


@dataclass
class CachedResponse:
    status: int
    body: str
    content_type: str
    stored_at: datetime


class EmulatorState:
    """Everything that ``/_emulator/reset`` throws away (apps and config survive unless asked)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = Clock(config.time_scale)
        self.lock = threading.RLock()
        self.companies: dict[str, Company] = {}
        self.request_log = RequestLog()
        self.requestids: dict[tuple[str, str], CachedResponse] = {}
        self._seq = itertools.count(1)

    def now(self) -> datetime:
        return self.clock.now()

    def next_seq(self) -> int:
        return next(self._seq)

    def company(self, realm_id: str) -> Company | None:
        return self.companies.get(realm_id)

    def stamp_new(self, company: Company, rec: Record, created: datetime | None = None) -> None:
        now = self.now()
        rec.created = created or now
        rec.updated = created or now
        rec.seq = self.next_seq()
        rec.data["MetaData"] = {
            "CreateTime": fmt_time(company.local(rec.created)),
            "LastUpdatedTime": fmt_time(company.local(rec.updated)),
        }

    def touch(self, company: Company, rec: Record, bump_sync: bool = True) -> None:
        """Record a change: LastUpdatedTime now, SyncToken+1 unless QBO leaves it alone."""
        rec.updated = max(self.now(), rec.updated)
        rec.seq = self.next_seq()
        meta = rec.data.setdefault("MetaData", {})
        meta["LastUpdatedTime"] = fmt_time(company.local(rec.updated))
        if bump_sync and "SyncToken" in rec.data:
            rec.data["SyncToken"] = str(int(rec.data["SyncToken"]) + 1)
