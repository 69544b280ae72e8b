"""What the functions write to CloudWatch Logs, measured in bytes (the bench only; production code untouched).

In Lambda everything a function writes to stdout becomes CloudWatch Logs ingestion: Powertools'
JSON log lines and its EMF metric documents (``{"_aws": ...}``, printed at the end of each
invocation). Here the functions run in this process, so while a stack runs ``sys.stdout`` and the
Powertools logger's stream are replaced by :class:`LogVolume`, which passes everything through to
where it went before and counts the bytes per function (the one the writing thread is inside, from
:data:`bench.counting.COUNTERS`), the EMF documents and the metric names they carry.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from bench.counting import COUNTERS

SERVICE_LOGGER = "kyrios-quickbooks"  # POWERTOOLS_SERVICE_NAME in template.yaml


@dataclass
class Volume:
    bytes: Counter[str] = field(default_factory=Counter)  # function -> bytes written (log lines + EMF)
    emf_bytes: Counter[str] = field(default_factory=Counter)
    emf_documents: Counter[str] = field(default_factory=Counter)
    metrics: set[str] = field(default_factory=set)  # "Namespace/Name[dims]" seen in EMF documents

    def since(self, earlier: Volume) -> Volume:
        return Volume(
            self.bytes - earlier.bytes,
            self.emf_bytes - earlier.emf_bytes,
            self.emf_documents - earlier.emf_documents,
            set(self.metrics),
        )

    def functions_bytes(self) -> int:
        return sum(n for who, n in self.bytes.items() if who != "harness")


class LogVolume:
    """A text stream that counts what passes through it per function, then writes it on."""

    def __init__(self) -> None:
        self.target: TextIO = sys.stdout
        self._lock = threading.Lock()
        self._volume = Volume()

    def write(self, text: str) -> int:
        who = COUNTERS.current()
        size = len(text.encode("utf-8"))
        stripped = text.lstrip()
        with self._lock:
            self._volume.bytes[who] += size
            if stripped.startswith('{"_aws"'):
                self._volume.emf_bytes[who] += size
                self._volume.emf_documents[who] += 1
                self._volume.metrics.update(metric_names(stripped))
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False

    def snapshot(self) -> Volume:
        with self._lock:
            v = self._volume
            return Volume(Counter(v.bytes), Counter(v.emf_bytes), Counter(v.emf_documents), set(v.metrics))


def metric_names(document: str) -> set[str]:
    try:
        aws = json.loads(document)["_aws"]
    except (ValueError, KeyError, TypeError):
        return set()
    out = set()
    for directive in aws.get("CloudWatchMetrics", []):
        dims = ",".join(sorted(d for group in directive.get("Dimensions", []) for d in group))
        for metric in directive.get("Metrics", []):
            out.add(f"{directive.get('Namespace')}/{metric.get('Name')}[{dims}]")
    return out


LOGS = LogVolume()


@contextmanager
def counting_logs() -> Iterator[LogVolume]:
    """While the block runs, stdout and the Powertools logger's handlers write through :data:`LOGS`."""
    previous = sys.stdout
    if previous is not LOGS:
        LOGS.target = previous
    handlers: list[tuple[Any, Any]] = []
    for handler in logging.getLogger(SERVICE_LOGGER).handlers:
        stream = getattr(handler, "stream", None)
        if stream is not None and stream is not LOGS:
            handlers.append((handler, stream))
            handler.stream = LOGS  # type: ignore[attr-defined]  # a StreamHandler: it has a stream
    sys.stdout = LOGS
    try:
        yield LOGS
    finally:
        sys.stdout = previous
        for handler, stream in handlers:
            handler.stream = stream
