"""``make demo``: start the local stack, tell the whole product story against it, stop, and say how it went.

    python -m local.demo [--verbose] [--schedule-interval 3] [--time-scale 1]

Exits 0 when every step's expectations held, 1 otherwise (each failed check is printed with what
was measured). The story is in ``local/demo_steps/story.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
import warnings

from local.demo_steps.report import Report
from local.demo_steps.story import Story
from local.runner import LocalBundle, print_wiring


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kyrios ⇄ QuickBooks: the whole story, locally.")
    parser.add_argument("--verbose", action="store_true", help="function logs and tracebacks")
    parser.add_argument(
        "--schedule-interval",
        type=float,
        default=3.0,
        help="seconds between contact-poller ticks (the template says 5 minutes)",
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulator seconds per real second")
    args = parser.parse_args(argv)

    if not args.verbose:
        # Function logs are JSON lines for CloudWatch; the story speaks for itself here.
        warnings.filterwarnings("ignore")
        logging.basicConfig(level=logging.CRITICAL)
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    report = Report(out=sys.stdout, verbose=args.verbose)
    # What the functions print (JSON logs, EMF metrics) goes to a file unless --verbose.
    log_fd, log_path = tempfile.mkstemp(prefix="kyrios-demo-", suffix=".log")
    function_output = os.fdopen(log_fd, "w", encoding="utf-8")
    quiet = contextlib.nullcontext() if args.verbose else contextlib.redirect_stdout(function_output)
    report.say("Kyrios ⇄ QuickBooks Online — local demo")
    started = time.monotonic()
    with quiet:
        passed = _run(report, args)
    function_output.close()
    if not args.verbose:
        report.say(f"Function output (JSON logs, metrics): {log_path}")
    report.say(f"Demo finished in {time.monotonic() - started:.0f} s; everything it started is stopped.")
    return 0 if passed else 1


def _run(report: Report, args: argparse.Namespace) -> bool:
    started = time.monotonic()
    stack = LocalBundle.start(
        stage="demo",
        time_scale=args.time_scale,
        schedule_interval=args.schedule_interval,
        sqs_time_scale=0.003,  # a failed push is retried after ~2 s instead of the queue's 12 minutes
        webhook_window_seconds=2.0,  # production aggregates a minute or more; the story should not wait
        parameters={"LogLevel": "DEBUG" if args.verbose else "WARNING"},
    )
    try:
        report.say(
            f"Local stack up in {time.monotonic() - started:.1f} s: API {stack.api_url}, "
            f"QBO emulator {stack.emulator.url}, AWS (moto) {stack.moto_url}"
        )
        report.say("Wired from template.yaml:")
        print_wiring(stack, report.out)
        return Story(stack, report).run()
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
