"""Per-company throttling (docs/qbo-facts.md, limits): 10 requests/s, 500/min, batch 40/min, measured
on the emulator clock (so ``time_scale`` compresses the windows). A refused request is not counted.
The 429 body is Intuit's XML (throttle-429.xml), whatever the Accept header asked for."""

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

    def reset(self) -> None:
        with self._lock:
            self._all.clear()
            self._batch.clear()

    def allow(self, key: str, is_batch: bool) -> bool:
        if not self.config.rate_limits:
            return True
        now = self.clock.now().timestamp()
        with self._lock:
            calls = self._all.setdefault(key, deque())
            while calls and calls[0] <= now - 60.0:
                calls.popleft()
            last_second = sum(1 for t in calls if t > now - 1.0)
            if last_second >= self.config.per_second or len(calls) >= self.config.per_minute:
                return False
            if is_batch:
                batches = self._batch.setdefault(key, deque())
                while batches and batches[0] <= now - 60.0:
                    batches.popleft()
                if len(batches) >= self.config.batch_per_minute:
                    return False
                batches.append(now)
            calls.append(now)
            return True
