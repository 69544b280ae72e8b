"""EventBridge schedules of the template (SAM ``Schedule`` events), fired by a local timer.

A ``Schedule`` event becomes, in AWS, a rule with a schedule expression whose target is the
function; the function receives the event's ``Input`` verbatim when one is set, otherwise the
"Scheduled Event" envelope. Locally a thread fires at the expression's rate, or at a shorter
``interval`` (the demo compresses ``rate(5 minutes)`` to seconds). ``cron(...)`` expressions are
not interpreted: they fire every ``interval`` (60 s unless given).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
CRON_DEFAULT_SECONDS = 60.0


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression; None for ``cron(...)``."""
    found = _RATE.match(expression.strip())
    if found is None:
        if expression.strip().startswith("cron("):
            return None
        raise ValueError(f"unsupported schedule expression {expression!r}")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


@dataclass(frozen=True)
class ScheduleSpec:
    function_id: str
    event_name: str
    expression: str
    input_json: str | None
    enabled: bool = True


class ScheduleTimer:
    """Fires one schedule every ``interval`` seconds (first run after one interval, as EventBridge)."""

    def __init__(
        self,
        spec: ScheduleSpec,
        invoke: Invoke,
        *,
        interval: float | None,
        region: str,
        account_id: str,
        rule_arn: str,
    ) -> None:
        self.spec = spec
        self.invoke = invoke
        self.interval = (
            interval if interval is not None else (rate_seconds(spec.expression) or CRON_DEFAULT_SECONDS)
        )
        self.region = region
        self.account_id = account_id
        self.rule_arn = rule_arn
        self.fired = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def event(self) -> dict[str, Any]:
        """What the function receives from this schedule."""
        if self.spec.input_json is not None:
            value = json.loads(self.spec.input_json)
            return value if isinstance(value, dict) else {"input": value}
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.rule_arn],
            "detail": {},
        }

    def fire(self) -> Any:
        """Run the target once now (also what the timer does); returns the handler's answer."""
        with self._lock:  # a slow run is not overlapped by the next tick
            self.fired += 1
            try:
                return self.invoke(self.spec.function_id, self.event())
            except Exception:
                self.failures += 1
                log.exception("schedule %s of %s failed", self.spec.event_name, self.spec.function_id)
                return None

    def start(self) -> None:
        if not self.spec.enabled:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"schedule-{self.spec.function_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.fire()
