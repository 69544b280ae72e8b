"""JSON in and out the way QBO writes it.

QBO serialises money as JSON numbers with two decimals (``100.00``, ``337.50``) but zero as ``0``,
and quantities/prices without trailing zeros (``4.5``, ``75``). Python's ``json`` cannot write a
``Decimal`` verbatim, so this module has a tiny encoder of its own. Incoming JSON is parsed with
``Decimal`` for non-integers so that no float rounding ever reaches a total.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """Round half-up to cents (QBO's rounding for amounts)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def plain(value: Any) -> Decimal:
    """A quantity, unit price or percentage: exact, without trailing zeros."""
    d = Decimal(str(value))
    if d == d.to_integral_value():
        return d.quantize(Decimal(1))
    return d.normalize()


def _decimal_text(d: Decimal) -> str:
    if d == 0:
        return "0"
    return format(d, "f")


def _encode(obj: Any, out: list[str]) -> None:
    if isinstance(obj, dict):
        out.append("{")
        first = True
        for key, value in obj.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    elif isinstance(obj, Decimal):
        out.append(_decimal_text(obj))
    elif isinstance(obj, bool) or obj is None or isinstance(obj, (int, float, str)):
        out.append(json.dumps(obj))
    else:
        out.append(json.dumps(str(obj)))


def dumps(obj: Any) -> str:
    out: list[str] = []
    _encode(obj, out)
    return "".join(out)


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)
