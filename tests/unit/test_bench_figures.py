"""The bench's pure parts: ratios, formatting, percentiles and the table."""

from __future__ import annotations

import pytest

from bench.figures import Figure, format_ratio, format_value, percentile, ratio, render_table


def test_ratio_is_ours_over_baseline_and_absent_without_a_baseline() -> None:
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(3, 2) == 1.5
    assert ratio(1.0, None) is None
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0×"),
        (0.25, "0.25×"),
        (17.3, "17×"),
        (1.5, "1.50×"),
        (0.0019, "0.0019×"),
        (0.04, "0.040×"),
    ],
)
def test_format_ratio_keeps_two_significant_digits_for_small_ratios(value: float | None, text: str) -> None:
    assert format_ratio(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (8, "8"), (1234.0, "1,234"), (7.96, "7.96"), (0.0836, "0.0836"), (286.4, "286")],
)
def test_format_value(value: float | None, text: str) -> None:
    assert format_value(value) == text


def test_percentile_interpolates_between_ranks() -> None:
    samples = [float(n) for n in range(1, 101)]  # 1..100
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_empty_samples_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_goal_direction_decides_met() -> None:
    assert Figure("w", "p99", "ms", 18.0, goal=50).met is True
    assert Figure("w", "p99", "ms", 60.0, goal=50).met is False
    assert Figure("w", "rate", "x", 0.5, goal=0.8, better="higher").met is False
    assert Figure("w", "no goal", "x", 1.0).met is None
    assert Figure("w", "no value", "x", None, goal=1).met is None


def test_table_has_a_row_per_figure_with_ratio_goal_and_met() -> None:
    table = render_table(
        [
            Figure("push", "calls per invoice", "calls", 1.0, 4.0),
            Figure("webhook", "p99", "ms", 60.0, goal=50),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["figure", "unit", "ours", "baseline", "ratio", "goal", "met?"]
    assert lines[2].split() == ["push:", "calls", "per", "invoice", "calls", "1", "4", "0.25×"]
    assert lines[3].split() == ["webhook:", "p99", "ms", "60", "—", "—", "≤", "50", "NO"]
    assert len({len(line) for line in lines[:2]}) == 1  # the rule spans the header
