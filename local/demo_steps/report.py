"""How the demo tells its story: numbered steps, each check with what it measured, a summary at the end."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

PASS = "✔"
FAIL = "✘"


class StepFailed(AssertionError):
    """An expectation of the story did not hold; the message says which and what was seen."""


@dataclass
class StepResult:
    number: int
    title: str
    passed: bool = True
    seconds: float = 0.0
    checks: list[tuple[bool, str]] = field(default_factory=list)


@dataclass
class Report:
    out: TextIO = sys.stdout
    steps: list[StepResult] = field(default_factory=list)
    verbose: bool = False

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    @contextmanager
    def step(self, number: int, title: str) -> Iterator[StepResult]:
        result = StepResult(number, title)
        self.steps.append(result)
        self.say(f"\n{number}. {title}")
        started = time.monotonic()
        try:
            yield result
        except StepFailed as failed:
            result.passed = False
            self.say(f"   {FAIL} {failed}")
        except Exception as exc:
            result.passed = False
            self.say(f"   {FAIL} the step broke: {type(exc).__name__}: {exc}")
            if self.verbose:
                traceback.print_exc(file=self.out)
        finally:
            result.seconds = time.monotonic() - started
            verdict = "passed" if result.passed else "FAILED"
            self.say(f"   → step {number} {verdict} in {result.seconds:.1f} s")

    def check(self, result: StepResult, ok: bool, text: str) -> None:
        """Print one expectation; a failed one ends the step."""
        result.checks.append((ok, text))
        self.say(f"   {PASS if ok else FAIL} {text}")
        if not ok:
            raise StepFailed("expectation not met (see above)")

    def note(self, text: str) -> None:
        self.say(f"     {text}")

    def summary(self) -> bool:
        self.say("\nSummary")
        for result in self.steps:
            mark = PASS if result.passed else FAIL
            self.say(f"  {mark} {result.number}. {result.title:<62} {result.seconds:6.1f} s")
        failed = [r for r in self.steps if not r.passed]
        self.say(f"\n{len(self.steps) - len(failed)} of {len(self.steps)} steps passed.")
        return not failed


def wait_until(probe: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """The first truthy answer of ``probe`` within ``timeout`` seconds, else the last (falsy) one."""
    deadline = time.monotonic() + timeout
    answer = probe()
    while not answer and time.monotonic() < deadline:
        time.sleep(interval)
        answer = probe()
    return answer
