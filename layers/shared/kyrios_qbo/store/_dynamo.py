"""Low-level helpers shared by the store modules: client, keys, attribute values, paging."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from kyrios_qbo import aws_clients
from kyrios_qbo.config import get_settings
from kyrios_qbo.store.errors import InvalidCursor, InvalidKey, StoreBusy

T = TypeVar("T")
Item = dict[str, Any]
"""A DynamoDB item in low-level attribute-value form (``{"pk": {"S": ...}}``)."""

MAX_KEY_PART = 512


def client() -> Any:
    """The DynamoDB client of this container (created on first use; honours ``AWS_ENDPOINT_URL``)."""
    return aws_clients.client("dynamodb")


def table_name() -> str:
    return get_settings().table_name


def now() -> float:
    """Epoch seconds; every expiry comparison goes through here."""
    return time.time()


def iso_now() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """Canonical UTC timestamp (fixed width, so strings compare in time order)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def key_part(value: str, what: str) -> str:
    """Validate one component of a key: a non-empty printable string of bounded length."""
    if not isinstance(value, str) or not value:
        raise InvalidKey(f"{what} must be a non-empty string")
    if len(value) > MAX_KEY_PART:
        raise InvalidKey(f"{what} is longer than {MAX_KEY_PART} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidKey(f"{what} contains control characters")
    return value


def account_pk(account_id: str) -> str:
    return f"ACCOUNT#{key_part(account_id, 'account id')}"


def realm_pk(realm_id: str) -> str:
    return f"REALM#{key_part(realm_id, 'realm id')}"


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# -- attribute values ----------------------------------------------------------------------------
def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def get_s(item: Item, name: str) -> str:
    return str(item[name]["S"])


def opt_s(item: Item, name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def get_int(item: Item, name: str, default: int = 0) -> int:
    value = item.get(name)
    return default if value is None else int(value["N"])


def get_float(item: Item, name: str, default: float = 0.0) -> float:
    value = item.get(name)
    return default if value is None else float(value["N"])


def opt_float(item: Item, name: str) -> float | None:
    value = item.get(name)
    return None if value is None else float(value["N"])


def opt_b(item: Item, name: str) -> bytes | None:
    value = item.get(name)
    return None if value is None else bytes(value["B"])


def json_value(value: Any) -> dict[str, str]:
    """A JSON-able value stored as a JSON string (no Decimal round trips)."""
    return {"S": json.dumps(value, separators=(",", ":"), sort_keys=True)}


def get_json(item: Item, name: str, default: Any = None) -> Any:
    value = item.get(name)
    return default if value is None else json.loads(value["S"])


# -- errors ----------------------------------------------------------------------------------------
def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def conditional_write(operation: Literal["put_item", "update_item", "delete_item"], **request: Any) -> bool:
    """One conditional write: True when written, False when its condition failed (another writer got
    there first, or the state it expected is gone); any other error is raised."""
    try:
        getattr(client(), operation)(**request)
    except Exception as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def is_condition_failure(exc: Exception) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def old_item(exc: Exception) -> Item | None:
    """The item returned with a failed condition (``ReturnValuesOnConditionCheckFailure=ALL_OLD``)."""
    response = getattr(exc, "response", None)
    item = response.get("Item") if isinstance(response, dict) else None
    return item if isinstance(item, dict) else None


def cancellation_codes(exc: Exception) -> list[str]:
    """Per-operation reason codes of a cancelled transaction ("None" for operations that passed)."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons", []) if isinstance(response, dict) else []
    return [str(reason.get("Code", "None")) for reason in reasons]


def cancellation_items(exc: Exception) -> list[Item | None]:
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons", []) if isinstance(response, dict) else []
    return [reason.get("Item") for reason in reasons]


# -- paging ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; pass ``cursor`` back to get the next page (None: no more)."""

    items: list[T]
    cursor: str | None


def encode_cursor(last_key: Item | None) -> str | None:
    """An opaque cursor from ``LastEvaluatedKey`` (all key attributes here are strings)."""
    if not last_key:
        return None
    plain = {name: value["S"] for name, value in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected: dict[str, str], sk_prefix: str = "") -> Item | None:
    """``ExclusiveStartKey`` from a cursor; it must carry the ``expected`` values (and ``sk`` prefix)."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor("cursor is not one this listing produced") from exc
    if not isinstance(plain, dict) or not all(isinstance(v, str) for v in plain.values()):
        raise InvalidCursor("cursor is not one this listing produced")
    if any(plain.get(name) != value for name, value in expected.items()):
        raise InvalidCursor("cursor belongs to another listing")
    if sk_prefix and not str(plain.get("sk", "")).startswith(sk_prefix):
        raise InvalidCursor("cursor belongs to another listing")
    return {name: {"S": value} for name, value in plain.items()}


def check_limit(limit: int, maximum: int = 1000) -> int:
    if not 1 <= limit <= maximum:
        raise ValueError(f"limit must be between 1 and {maximum}")
    return limit


BATCH_GET_SIZE = 100
BATCH_WRITE_SIZE = 25
_UNPROCESSED_ROUNDS = 6


def batch_get(keys: Sequence[Item], *, what: str) -> list[Item]:
    """Consistent ``BatchGetItem`` of any number of keys (duplicates removed), re-asking for what
    DynamoDB leaves unprocessed with backoff; raises ``StoreBusy`` naming ``what`` if it keeps doing so."""
    table = table_name()
    found: list[Item] = []
    unique = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
    for start in range(0, len(unique), BATCH_GET_SIZE):
        request: dict[str, Any] = {
            table: {"Keys": unique[start : start + BATCH_GET_SIZE], "ConsistentRead": True}
        }
        for round_ in range(_UNPROCESSED_ROUNDS):
            answer = client().batch_get_item(RequestItems=request)
            found.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**round_, 1.0))
        else:
            raise StoreBusy(f"DynamoDB kept throttling while reading {what}")
    return found


def batch_put(items: Sequence[Item], *, what: str) -> None:
    """``BatchWriteItem`` puts of any number of items, with the same unprocessed handling."""
    table = table_name()
    for start in range(0, len(items), BATCH_WRITE_SIZE):
        pending: dict[str, Any] = {
            table: [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_WRITE_SIZE]]
        }
        for round_ in range(_UNPROCESSED_ROUNDS):
            answer = client().batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**round_, 1.0))
        else:
            raise StoreBusy(f"DynamoDB kept throttling while writing {what}")
