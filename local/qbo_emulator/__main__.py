"""``python -m local.qbo_emulator --port N`` (port also from ``QBO_EMULATOR_PORT``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from .server import EmulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.qbo_emulator", description="QuickBooks Online emulator"
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("QBO_EMULATOR_PORT", "8765")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--seed",
        choices=("sandbox", "minimal"),
        default="sandbox",
        help="what a new company holds: a fresh Intuit sandbox company's data, or nearly nothing",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    srv = EmulatorServer.create(
        port=args.port,
        host=args.host,
        quiet=not args.verbose,
        time_scale=args.time_scale,
        rate_limits=not args.no_rate_limits,
        default_seed=args.seed,
    )
    print(f"QBO emulator listening on {srv.url}  discovery: {srv.discovery_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
