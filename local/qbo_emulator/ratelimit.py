"""Per-company throttling, as Intuit documents it (docs/qbo-facts.md, limits):
- at most ``max_concurrent`` (10) requests in flight at once per company (Intuit developer blog
  2016-08-08 "Concurrent API use changes": "Applications making more than 10 concurrent or
  multi-threaded API requests to the same realmId will get a 429");
- ``per_minute`` (500) requests per minute per company, batch calls included (same post; Intuit's
  "API call limits and throttles" page);
- ``batch_per_minute`` (40) batch calls per minute (same page);
- ``per_second``: off by default (None). Intuit's current limits page also lists "10 requests per
  second, per realm ID and app", the 2016 post and issue 20 say the limit is on concurrency; set
  ``per_second=10`` to model both.
Windows run on the emulator clock (``time_scale`` compresses them). A refused request is not counted
and holds no slot. The 429 body is Intuit's XML (throttle-429.xml), whatever the Accept header asked for.
"""

from __future__ import annotations

import threading
from collections import deque

from .state import Clock, EmulatorConfig


class RateLimiter:
    def __init__(self, clock: Clock, config: EmulatorConfig) -> None:
        self.clock = clock
        self.config = config
        self._lock = threading.Lock()
        self._all: dict[str, deque[float]] = {}
        self._batch: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._all.clear()
            self._batch.clear()
            self._in_flight.clear()

    def allow(self, key: str, is_batch: bool) -> bool:
        """Admit a request (then ``done(key)`` must follow) or refuse it (nothing to release)."""
        if not self.config.rate_limits:
            return True
        now = self.clock.now().timestamp()
        with self._lock:
            if self._in_flight.get(key, 0) >= self.config.max_concurrent:
                return False
            calls = self._all.setdefault(key, deque())
            while calls and calls[0] <= now - 60.0:
                calls.popleft()
            if len(calls) >= self.config.per_minute:
                return False
            per_second = self.config.per_second
            if per_second is not None and sum(1 for t in calls if t > now - 1.0) >= per_second:
                return False
            if is_batch:
                batches = self._batch.setdefault(key, deque())
                while batches and batches[0] <= now - 60.0:
                    batches.popleft()
                if len(batches) >= self.config.batch_per_minute:
                    return False
                batches.append(now)
            calls.append(now)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            return True

    def done(self, key: str) -> None:
        """The admitted request has been answered."""
        with self._lock:
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._in_flight.get(key, 0)
