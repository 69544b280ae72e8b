"""QBO calls per pushed invoice and per sales receipt, ours vs python-quickbooks, cold and warm.

Cold: every document has a customer and products QBO has not seen. Warm: the same customers and
products again. Ours goes through the bus → push queue → pusher; the two baselines (naive
``bench/baseline.py``, competent ``bench/baseline_competent.py``) push the same documents with
python-quickbooks. Calls from the emulator's request log, Core/CorePlus from its metering (Intuit's
rule: reads and queries are CorePlus, writes Core), one company per side. The ratio is against the
competent baseline; the naive one's count is in the notes and details.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class Calls:
    total: int
    core_plus: int

    @property
    def core(self) -> int:
        return self.total - self.core_plus


def _core_plus(stack: LocalBundle, realm_id: str) -> int:
    return int(stack.emulator.control.metering()["realms"].get(realm_id, {}).get("CorePlus", 0))


def _counted(stack: LocalBundle, realm_id: str, push: Callable[[], None]) -> Calls:
    control = stack.emulator.control
    before, plus_before = control.request_counts(), _core_plus(stack, realm_id)
    push()
    calls = qbo_calls(counts_since(control.request_counts(), before), {realm_id})
    # python-quickbooks POSTs its queries: Intuit meters a query as CorePlus, whatever the method
    return Calls(sum(calls.values()), _core_plus(stack, realm_id) - plus_before + calls.get("POST query", 0))


def _ours(
    stack: LocalBundle, account_id: str, realm_id: str, docs: list[Document], one_by_one: bool
) -> Calls:
    def push() -> None:
        for batch in [[d] for d in docs] if one_by_one else [docs]:
            publish_all(stack, account_id, batch)
            stack.wait_idle(timeout=120)

    return _counted(stack, realm_id, push)


def _baseline(stack: LocalBundle, realm_id: str, docs: list[Document], competent: bool) -> Calls:
    def push() -> None:
        result = run_baseline(
            stack,
            realm_id,
            "push",
            timeout=300,
            competent=competent,
            documents=[d.for_baseline() for d in docs],
            workers=1,
            retry_delay=1,
        )
        if result["failed"]:
            raise RuntimeError(f"baseline push failed: {result['errors']}")

    return _counted(stack, realm_id, push)


def run(options: Options) -> list[Figure]:
    figures: list[Figure] = []
    with running_stack("calls", time_scale=1.0, rate_limits=False, sqs_time_scale=0.003) as stack:
        for kind, label in (("invoice", "invoice"), ("receipt", "sales receipt")):
            ours_at = connect(stack, new_realm())
            cold, warm = _docs(kind, options.cold, options.warm, tag=kind[:2])
            ours = (
                _ours(stack, ours_at.account_id, ours_at.realm_id, cold, one_by_one=True),
                _ours(stack, ours_at.account_id, ours_at.realm_id, warm, one_by_one=False),
            )
            sides = {}
            for name, competent in (("naive", False), ("competent", True)):
                realm = new_realm()
                stack.emulator.control.add_company(realm, f"Baseline {name} {kind}", "US")
                sides[name] = (
                    _baseline(stack, realm, cold, competent),
                    _baseline(stack, realm, warm, competent),
                )
            for index, state, n in ((0, "cold", len(cold)), (1, "warm", len(warm))):
                mine, good, naive = ours[index], sides["competent"][index], sides["naive"][index]
                details = {
                    "documents": n,
                    **{
                        side: {"calls": c.total, "core": c.core, "core_plus": c.core_plus}
                        for side, c in (("ours", mine), ("competent", good), ("naive", naive))
                    },
                }
                what = "customer and items " + ("new" if state == "cold" else "already in QBO")
                figures.append(
                    Figure(
                        "push",
                        f"QBO calls per {label}, {state}",
                        "calls",
                        mine.total / n,
                        good.total / n,
                        notes=f"{n} documents each side, {what}; baseline = competent; naive "
                        f"{naive.total / n:.2f}; Core ours {mine.core / n:.2f}, "
                        f"competent {good.core / n:.2f}",
                        details=details,
                    )
                )
                figures.append(
                    Figure(
                        "push",
                        f"CorePlus calls per {label}, {state}",
                        "calls",
                        mine.core_plus / n,
                        good.core_plus / n,
                        notes="reads and queries (metered); baseline = competent; "
                        f"naive {naive.core_plus / n:.2f}",
                        details=details,
                    )
                )
    return figures
