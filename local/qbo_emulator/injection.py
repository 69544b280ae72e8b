"""Fault injection for tests: the next N calls matching method/path/realm fail in a chosen way.

Kinds: ``500`` (SystemFault JSON), ``503``, ``429`` (throttle XML), ``timeout`` (the emulator sleeps
``seconds`` real seconds, then answers 504 — or, after the write, the real answer: the client gave up
long before), ``reset`` (the socket is closed without an answer). With ``after_write`` the request is
processed first and only the answer is lost/replaced: "QBO wrote but the answer was lost".
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("500", "503", "429", "timeout", "reset")


@dataclass
class FaultRule:
    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None  # regular expression searched in the request path
    realm: str | None = None
    after_write: bool = False
    seconds: float = 5.0
    id: int = 0
    hits: int = 0
    _rx: Any = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.rules: list[FaultRule] = []

    def add(self, spec: dict[str, Any]) -> FaultRule:
        kind = str(spec.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        rule = FaultRule(
            kind=kind,
            count=int(spec.get("count", 1)),
            method=(spec.get("method") or None),
            path=spec.get("path") or None,
            realm=spec.get("realm") or None,
            after_write=bool(spec.get("after_write", False)),
            seconds=float(spec.get("seconds", 5.0)),
        )
        rule._rx = re.compile(rule.path) if rule.path else None
        with self._lock:
            rule.id = next(self._ids)
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str, realm: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.method and rule.method.upper() != method.upper():
                    continue
                if rule._rx is not None and not rule._rx.search(path):
                    continue
                if rule.realm and rule.realm != realm:
                    continue
                rule.count -= 1
                rule.hits += 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
        return None

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self.rules]
