"""How many moments fall in the busiest sliding window: QBO's rate limits hold for every window."""

from __future__ import annotations


def max_in_window(times: list[float], window: float) -> int:
    """The most of the sorted ``times`` in any half-open window of ``window`` seconds."""
    best, left = 0, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= window:
            left += 1
        best = max(best, right - left + 1)
    return best
