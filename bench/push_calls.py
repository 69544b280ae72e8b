"""QBO calls per pushed invoice and per sales receipt, ours vs python-quickbooks, cold and warm.

Cold: every document has a customer and products QBO has not seen. Warm: the same customers and
products again. Ours goes through the bus → push queue → pusher; the baseline pushes the same
documents with python-quickbooks. Counted from the emulator's request log, one company per side.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.counting import counts_since, qbo_calls
from bench.figures import Figure
from bench.harness import Document, connect, new_realm, publish_all, run_baseline, running_stack
from local.runner import LocalBundle


@dataclass(frozen=True)
class Options:
    cold: int = 5
    warm: int = 20


def _docs(kind: str, cold: int, warm: int, tag: str) -> tuple[list[Document], list[Document]]:
    def doc(n: int, who: int) -> Document:
        return Document(
            kind=kind,
            kyrios_id=f"{kind[:3]}_{tag}_{n:04d}",
            number=f"P{tag}{n:04d}",
            customer_name=f"Pc{tag} Person{who:03d}",
            customer_email=f"p{who:03d}.{tag}@example.com",
            lines=(
                (f"prod_{tag}_{2 * who}", f"Item {tag} {2 * who}", 1, "30.00"),
                (f"prod_{tag}_{2 * who + 1}", f"Item {tag} {2 * who + 1}", 2, "12.50"),
            ),
        )

    return [doc(n, n) for n in range(cold)], [doc(cold + n, n % cold) for n in range(warm)]


def _ours(stack: LocalBundle, account_id: str, realm_id: str, docs: list[Document], one_by_one: bool) -> int:
    control = stack.emulator.control
    before = control.request_counts()
    batches = [[d] for d in docs] if one_by_one else [docs]
    for batch in batches:
        publish_all(stack, account_id, batch)
        stack.wait_idle(timeout=120)
    return sum(qbo_calls(counts_since(control.request_counts(), before), {realm_id}).values())


def _baseline(stack: LocalBundle, realm_id: str, docs: list[Document]) -> int:
    control = stack.emulator.control
    before = control.request_counts()
    result = run_baseline(
        stack,
        realm_id,
        "push",
        timeout=300,
        documents=[d.for_baseline() for d in docs],
        workers=1,
        retry_delay=1,
    )
    if result["failed"]:
        raise RuntimeError(f"baseline push failed: {result['errors']}")
    return sum(qbo_calls(counts_since(control.request_counts(), before), {realm_id}).values())


def run(options: Options) -> list[Figure]:
    figures: list[Figure] = []
    with running_stack("calls", time_scale=1.0, rate_limits=False, sqs_time_scale=0.003) as stack:
        for kind, label in (("invoice", "invoice"), ("receipt", "sales receipt")):
            ours_at = connect(stack, new_realm())
            base_realm = new_realm()
            stack.emulator.control.add_company(base_realm, f"Baseline {kind}", "US")
            cold, warm = _docs(kind, options.cold, options.warm, tag=kind[:2])
            ours_cold = _ours(stack, ours_at.account_id, ours_at.realm_id, cold, one_by_one=True)
            ours_warm = _ours(stack, ours_at.account_id, ours_at.realm_id, warm, one_by_one=False)
            base_cold = _baseline(stack, base_realm, cold)
            base_warm = _baseline(stack, base_realm, warm)
            for state, ours, base, n in (
                ("cold", ours_cold, base_cold, len(cold)),
                ("warm", ours_warm, base_warm, len(warm)),
            ):
                figures.append(
                    Figure(
                        "push",
                        f"QBO calls per {label}, {state}",
                        "calls",
                        ours / n,
                        base / n,
                        notes=f"{n} documents each side; {state}: customer and items "
                        + ("new" if state == "cold" else "already in QBO"),
                        details={"ours_calls": ours, "baseline_calls": base, "documents": n},
                    )
                )
    return figures
