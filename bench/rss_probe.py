"""Peak memory of one function's handler running real events, in a fresh process (as a Lambda container).

``python -m bench.rss_probe`` reads ``{"code_dir", "layer_dir", "events": [...]}`` on stdin, imports the
handler module from the function folder with the layer on the path (nothing of the bench or the
local stack is imported, so their memory is not counted), runs every event through
``lambda_handler`` and prints ``{"max_rss_mb", "invocations", "errors"}``. The environment (local AWS
endpoint, table names, the emulator) comes from the parent.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any

from local.lambda_context import lambda_context


def peak_rss_kb() -> int:
    """This process's peak RSS. Linux's ``getrusage`` ``ru_maxrss`` survives fork and exec, so a child of
    a large parent reports the parent's peak; ``VmHWM`` belongs to this program's own address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> int:
    job: dict[str, Any] = json.load(sys.stdin)
    sys.path[:0] = [job["code_dir"], job["layer_dir"]]
    import app  # type: ignore[import-not-found]  # the function's handler module

    errors = 0
    failed_records = 0
    processed = 0
    for event in job["events"]:
        try:
            name = job.get("function_name", "probe")
            answer = app.lambda_handler(
                event, lambda_context(name, timeout_seconds=120.0, memory_limit_in_mb=128)
            )
        except Exception:  # a replayed event may be refused (e.g. a used OAuth code); memory still counts
            errors += 1
            continue
        if isinstance(answer, dict):  # what the work did: SQS partial failures, an import page's count
            failed_records += len(answer.get("batchItemFailures") or [])
            processed += int(answer.get("processed") or 0)
    peak_kb = peak_rss_kb()
    summary = {
        "max_rss_mb": peak_kb / 1024,
        "invocations": len(job["events"]),
        "errors": errors,
        "failed_records": failed_records,
        "processed": processed,
    }
    print("\n" + json.dumps(summary), file=sys.__stdout__ or sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
