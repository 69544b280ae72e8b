"""Small validated types used by several model modules."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

# Deliberately simple: one '@', something before it, a dotted domain after it, no spaces. Deliverability
# is Kyrios' business; we only need a stable key to match QBO customers on.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _normalise_email(value: object) -> object:
    if isinstance(value, str):
        return value.strip().lower()
    return value


def _check_email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("is not a valid email address")
    return value


Email = Annotated[str, BeforeValidator(_normalise_email), AfterValidator(_check_email)]
"""An email address, trimmed and lower-cased, so ``' Jane@Example.COM '`` and ``'jane@example.com'`` match."""


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalEmail = Annotated[Email | None, BeforeValidator(_blank_to_none)]
"""An email that may be absent (blank strings count as absent)."""

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
"""An opaque identifier from Kyrios or QBO."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
OptionalText = Annotated[Text | None, BeforeValidator(_blank_to_none)]
