"""``python -m bench [--quick] [--only NAME ...]``: measure, print the table, write bench/results.json.

Every figure is measured in this run against the local stack (moto + the QBO emulator on
127.0.0.1); the baseline runs python-quickbooks from ``.venv-bench``. What each figure means:
``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.container_model import ContainerModel
from bench.figures import Figure, render_table

RESULTS = Path(__file__).with_name("results.json")
CONTAINER_MODEL = ContainerModel()
WORKLOADS = ("push-calls", "throughput", "import", "import-control", "contacts", "handlers", "poller")
WITHOUT_BASELINE = frozenset({"import-control"})


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller workloads (about 2 minutes)")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, help="run only these workloads")
    parser.add_argument("--invoices", type=int, help="invoices pushed in the throughput workload")
    parser.add_argument("--import-invoices", type=int, help="invoices in the import workload")
    parser.add_argument(
        "--import-control-invoices", type=int, help="invoices in the import-control workload (2,500)"
    )
    parser.add_argument("--companies", type=int, help="idle companies in the poller workload")
    parser.add_argument("--verbose", action="store_true", help="let function logs through")
    parser.add_argument("--output", type=Path, help=f"where to write the results (default {RESULTS.name})")
    parser.add_argument(
        "--record",
        action="store_true",
        help="write bench/results/<date>-<machine>.json, to commit and quote (python -m bench.readme_table)",
    )
    parser.add_argument("--machine", default=platform.node() or "unknown", help="machine name in the results")
    parser.add_argument(
        "--note", default="", help="a remark stored in the results (e.g. the machine was shared)"
    )
    return parser.parse_args(argv)


def _commit() -> dict[str, Any]:
    """The code measured: HEAD and whether the working tree had changes."""

    def git(*args: str) -> str:
        answer = subprocess.run(  # noqa: S603 - git with fixed arguments
            ["git", *args],  # noqa: S607
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        return answer.stdout.strip()

    # documentation, tests and results do not change what is measured
    changed = git("status", "--porcelain", "--", ".", ":!*.md", ":!tests", ":!bench/results")
    return {
        "sha": git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(changed),
    }


def _output(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    if args.record:
        machine = re.sub(r"[^A-Za-z0-9_.-]+", "-", args.machine)
        return RESULTS.parent / "results" / f"{datetime.now(UTC).date().isoformat()}-{machine}.json"
    return RESULTS


def _workloads(args: argparse.Namespace) -> dict[str, Callable[[], list[Figure]]]:
    from bench import (
        aws_cost,
        contacts,
        handlers,
        import_control,
        imports,
        poller_cost,
        push_calls,
        throughput,
    )
    from bench.costs import Prices, cost
    from bench.log_volume import LOGS

    quick = args.quick
    prices = Prices.load()

    def run_push_calls() -> list[Figure]:
        return push_calls.run(push_calls.Options(cold=3 if quick else 5, warm=10 if quick else 30))

    def run_throughput() -> list[Figure]:
        invoices = args.invoices or (50 if quick else 200)
        figures, usage, pushed, logs = throughput.run(throughput.Options(invoices=invoices))
        usage_total = aws_cost.usage_of(
            usage, kyrios_events_in=invoices, logs=logs, model=CONTAINER_MODEL, documents=pushed
        )
        return [*figures, aws_cost.figure("push (invoices)", usage_total, max(1, pushed), prices)]

    def run_import() -> list[Figure]:
        invoices = args.import_invoices or (2_000 if quick else 10_000)
        logs_before = LOGS.snapshot()
        figures, usage, published, transitions = imports.run(imports.Options(invoices=invoices))
        logs = LOGS.snapshot().since(logs_before)
        usage_total = aws_cost.usage_of(usage, transitions=transitions, logs=logs)
        return [*figures, aws_cost.figure("import", usage_total, max(1, published), prices)]

    def run_import_control() -> list[Figure]:
        return import_control.run(import_control.Options(invoices=args.import_control_invoices or 2_500))

    def run_contacts() -> list[Figure]:
        return contacts.run(contacts.Options(samples=2 if quick else 3))

    def run_handlers() -> list[Figure]:
        return handlers.run(
            handlers.Options(webhook_calls=100 if quick else 300, import_repeats=1 if quick else 3)
        )

    def run_poller() -> list[Figure]:
        companies = args.companies or (100 if quick else 1000)
        figures, usage, n = poller_cost.run(poller_cost.Options(companies=companies))
        tick = aws_cost.usage_of(usage)
        per_month = 1000 / n * 12 * 24 * 30  # ticks of one company, 1,000 companies
        lines = {k: v * per_month for k, v in cost(tick, prices).items()}
        biggest = sorted(((v, k) for k, v in lines.items() if k != "total"), reverse=True)[:3]
        figures.append(
            Figure(
                "poller",
                "USD per month of idle ticks per 1,000 companies",
                "USD",
                lines["total"],
                notes="every 5 minutes, 30 days; priced like the cost figures; largest: "
                + ", ".join(f"{k} ${v:.2f}" for v, k in biggest),
                details={"usd_per_month": lines},
            )
        )
        return figures

    return {
        "push-calls": run_push_calls,
        "throughput": run_throughput,
        "import": run_import,
        "import-control": run_import_control,
        "contacts": run_contacts,
        "handlers": run_handlers,
        "poller": run_poller,
    }


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    from bench.harness import baseline_available, quiet

    if not args.verbose:
        quiet()
    chosen = args.only or list(WORKLOADS)
    if not baseline_available() and set(chosen) - WITHOUT_BASELINE:
        print("bench: .venv-bench is missing (python-quickbooks baseline); run `make bench`", file=sys.stderr)
        return 2
    commit = _commit()  # before the run: the code that is measured
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    timings: dict[str, float] = {}
    log_fd, log_path = tempfile.mkstemp(prefix="kyrios-bench-", suffix=".log")
    started = time.monotonic()
    with os.fdopen(log_fd, "w", encoding="utf-8") as function_output:
        runners = _workloads(args)
        for name in chosen:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            began = time.monotonic()
            quiet_output = (
                contextlib.nullcontext() if args.verbose else contextlib.redirect_stdout(function_output)
            )
            try:
                with quiet_output:
                    figures.extend(runners[name]())
            except Exception as exc:  # one broken workload must not hide the others' figures
                failures[name] = f"{type(exc).__name__}: {exc}"
                function_output.write(traceback.format_exc())
            timings[name] = time.monotonic() - began
            print(f"bench: {name} done in {timings[name]:.0f} s", file=sys.stderr, flush=True)
    print(render_table(figures))
    for name, reason in failures.items():
        print(f"\n{name} could not be measured: {reason}")
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": {
            "name": args.machine,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "note": args.note,
        "settings": {
            "argv": list(sys.argv[1:] if argv is None else argv),
            "mode": "quick" if args.quick else "default",
            "workloads": chosen,
            "container_model": CONTAINER_MODEL.as_dict(),
            "function_configuration": "template defaults: LogLevel INFO, Powertools metrics on; "
            "tracing priced by the template's sampling rule (no X-Ray daemon locally)",
        },
        "seconds": round(time.monotonic() - started, 1),
        "workload_seconds": {k: round(v, 1) for k, v in timings.items()},
        "figures": [f.as_dict() for f in figures],
        "failures": failures,
        "function_output": log_path,
    }
    output = _output(args)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwrote {output} in {results['seconds']:.0f} s (function output: {log_path})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
