"""``make soak``: the reliability suite (tests/reliability) with more work per round, round after round
with new seeds, for a bounded time; prints the summed counts and exits 1 if any round failed.

    python -m local.soak [--minutes 10] [--scale 4] [--seed 1] [--workers 2]

Each round is one pytest run of the folder with ``RELIABILITY_PROFILE=soak`` (every workload, fault
batch and fuzz budget multiplied by ``--scale``) and ``RELIABILITY_SEED`` = seed + round, so a failing
round replays exactly with ``RELIABILITY_PROFILE=soak RELIABILITY_SEED=<n> pytest tests/reliability``.
A round that would outlive the time budget is stopped (and counts as failed). Each round also runs the
books property (``tests/integration/pusher/test_pusher_taxes_property.py``) with new draws.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MUST_BE_ZERO = (
    "messages_lost",
    "qbo_duplicates",
    "contact_duplicates",
    "contacts_missing",
    "imported_duplicates",
    "unhandled_exceptions",
    "secrets_in_logs",
)
MIN_ROUND_SECONDS = 60.0
"""A round is not started with less time than this left."""


# The books property (issue 16) explores new documents every round too: 10 × scale per tax regime
# (about 330 pushes a round at the default scale 4: a longer soak, MINUTES=60, draws thousands).
TAXES_PROPERTY = "tests/integration/pusher/test_pusher_taxes_property.py"
TAXES_EXAMPLES_PER_SCALE = 10


def run_round(seed: int, scale: int, workers: int, seconds_left: float) -> tuple[int, dict[str, int]]:
    handle, counts_file = tempfile.mkstemp(prefix="kyrios-soak-", suffix=".json")
    os.close(handle)
    env = {
        **os.environ,
        "RELIABILITY_PROFILE": "soak",
        "HYPOTHESIS_PROFILE": "explore",
        "RELIABILITY_SEED": str(seed),
        "RELIABILITY_SCALE": str(scale),
        "RELIABILITY_COUNTS_FILE": counts_file,
        "TAXES_EXAMPLES": str(TAXES_EXAMPLES_PER_SCALE * scale),
    }
    command = [sys.executable, "-m", "pytest", "tests/reliability", TAXES_PROPERTY, "-q"]
    if workers > 1:
        command += ["-n", str(workers)]
    try:
        # Our own interpreter running pytest on a fixed folder: no untrusted input.
        code = subprocess.run(  # noqa: S603
            command, cwd=REPO_ROOT, env=env, timeout=seconds_left, check=False
        ).returncode
    except subprocess.TimeoutExpired:
        print(f"round with seed {seed} stopped: it would outlive the time budget", flush=True)
        code = 124
    try:
        counts = json.loads(Path(counts_file).read_text() or "{}").get("counts", {})
    except (OSError, ValueError):
        counts = {}
    Path(counts_file).unlink(missing_ok=True)
    return code, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Soak: the reliability suite, bigger and repeated, bounded in time."
    )
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "10")))
    parser.add_argument("--scale", type=int, default=4, help="work per round, as a multiple of make test's")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    ends = time.monotonic() + args.minutes * 60
    totals: Counter[str] = Counter()
    rounds, failed = 0, []
    while rounds == 0 or ends - time.monotonic() >= MIN_ROUND_SECONDS:
        seed = args.seed + rounds
        print(
            f"--- soak round {rounds + 1} (seed {seed}, scale {args.scale}), "
            f"{max(0.0, ends - time.monotonic()) / 60:.1f} min left",
            flush=True,
        )
        code, counts = run_round(
            seed, args.scale, args.workers, max(MIN_ROUND_SECONDS, ends - time.monotonic())
        )
        totals.update(counts)
        rounds += 1
        if code != 0:
            failed.append(seed)

    print(
        f"\nSoak: {rounds} rounds in {args.minutes:g} min budget, seeds {args.seed}..{args.seed + rounds - 1}"
    )
    for name, value in sorted(totals.items()):
        print(f"  {name:<40} {value}")
    broken = [name for name in MUST_BE_ZERO if totals.get(name, 0)]
    if failed:
        print(f"FAILED rounds (replay with RELIABILITY_PROFILE=soak RELIABILITY_SEED=<seed>): {failed}")
    if broken:
        print(f"invariants broken: {', '.join(f'{n}={totals[n]}' for n in broken)}")
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
