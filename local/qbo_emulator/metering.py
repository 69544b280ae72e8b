"""Intuit's metering of Accounting API calls: Core (data in) and CorePlus (data out) per company and
per app (client id), per calendar month of the emulator's clock (UTC).

Classification (the same rule as ``kyrios_qbo.metering``, README "Metered calls"): a GET (read,
query, count, CDC, report, company info) is CorePlus; a POST (create, update, delete, void, send,
tax service) is Core, except a ``batch`` that carries a ``Query`` item, which is CorePlus. Counted:
every Accounting call that passed authentication and throttling (the calls Intuit's API served,
faults included, requestid replays too (Intuit answers them). Not counted: OAuth, refused tokens
(401), throttled calls (429).
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .core import Emulator

Category = Literal["Core", "CorePlus"]
CATEGORIES: tuple[Category, ...] = ("Core", "CorePlus")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def classify(method: str, rest: str, body: bytes) -> Category:
    """The category of ``method`` on ``/v3/company/<realm>/<rest>`` with raw ``body``."""
    if method.upper() == "GET":
        return "CorePlus"
    if rest.strip("/").lower() == "batch":
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return "Core"  # a malformed batch reads nothing out
        items = payload.get("BatchItemRequest") if isinstance(payload, dict) else None
        if isinstance(items, list) and any(isinstance(i, dict) and "Query" in i for i in items):
            return "CorePlus"
    return "Core"


def client_id_of(emu: Emulator, authorization: str) -> str:
    """The app (client id) whose access token is in the ``Authorization`` header ("" if unknown)."""
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    with emu.state.lock:
        access = emu.oauth.access.get(token)
        grant = emu.oauth.grants.get(access.grant_id) if access is not None else None
    return grant.client_id if grant is not None else ""


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of an (aware) emulator time, in UTC."""
    return f"{moment.year:04d}-{moment.month:02d}"


class Meter:
    """Call counters; thread-safe, cleared by ``/_emulator/reset``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # month -> ("realm" | "app", key) -> category -> count
        self._counts: dict[str, dict[tuple[str, str], dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: dict.fromkeys(CATEGORIES, 0))
        )

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def count(self, at: datetime, realm: str, client_id: str, category: Category) -> None:
        month = month_of(at)
        with self._lock:
            self._counts[month][("realm", realm)][category] += 1
            self._counts[month][("app", client_id)][category] += 1

    def months(self) -> list[str]:
        with self._lock:
            return sorted(self._counts)

    def report(self, month: str) -> dict[str, Any]:
        """``{"month", "realms": {realm: {"Core", "CorePlus"}}, "apps": {client_id: {...}}}``."""
        with self._lock:
            rows = self._counts.get(month, {})
            realms = {key: dict(c) for (kind, key), c in rows.items() if kind == "realm"}
            apps = {key: dict(c) for (kind, key), c in rows.items() if kind == "app"}
        return {"month": month, "realms": realms, "apps": apps}
