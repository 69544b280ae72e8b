"""Figures side by side: what a workload measured, how it compares, and the table that shows it (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass
class Figure:
    """One row of the table: our value, the baseline's (if there is one) and the goal (if there is one).

    ``better`` says which direction wins; the goal is met when ``ours`` is on the right side of it.
    """

    workload: str
    name: str
    unit: str
    ours: float | None
    baseline: float | None = None
    goal: float | None = None
    better: Better = "lower"
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """ours / baseline (below 1 is better when lower wins)."""
        return ratio(self.ours, self.baseline)

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.ours is None:
            return None
        return self.ours <= self.goal if self.better == "lower" else self.ours >= self.goal

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def ratio(ours: float | None, baseline: float | None) -> float | None:
    """ours / baseline; None when either is missing or the baseline is 0 (no meaningful ratio)."""
    if ours is None or baseline is None or baseline == 0:
        return None
    return ours / baseline


def format_ratio(value: float | None) -> str:
    """``0.25×`` style; small ratios keep two significant digits so that 0.004× is not shown as 0.00×."""
    if value is None:
        return "—"
    if value == 0:
        return "0×"
    if abs(value) >= 10:
        return f"{value:.0f}×"
    if abs(value) >= 0.1:
        return f"{value:.2f}×"
    digits = 1 - math.floor(math.log10(abs(value)))
    return f"{value:.{digits}f}×"


def format_value(value: float | None) -> str:
    """Readable number: integers as integers, small values with enough significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    if magnitude == 0:
        return "0"
    digits = 2 - math.floor(math.log10(magnitude))
    return f"{value:.{digits}f}"


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (0–100) by linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= pct <= 100:
        raise ValueError("pct must be between 0 and 100")
    ordered = sorted(samples)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = pct / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = math.ceil(rank)
    weight = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * weight)


COLUMNS = ("figure", "unit", "ours", "baseline", "ratio", "goal", "met?")


def _met_text(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: ""}[figure.met]


def _goal_text(figure: Figure) -> str:
    if figure.goal is None:
        return ""
    sign = "≤" if figure.better == "lower" else "≥"
    return f"{sign} {format_value(figure.goal)}"


def table_rows(figures: Iterable[Figure]) -> list[tuple[str, ...]]:
    return [
        (
            f"{f.workload}: {f.name}",
            f.unit,
            format_value(f.ours),
            format_value(f.baseline),
            format_ratio(f.ratio),
            _goal_text(f),
            _met_text(f),
        )
        for f in figures
    ]


def render_table(figures: Iterable[Figure]) -> str:
    """A plain-text table, one line per figure, columns padded to their widest cell."""
    rows = [COLUMNS, *table_rows(figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    right = {2, 3, 4}

    def line(row: tuple[str, ...]) -> str:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in pairs]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])
