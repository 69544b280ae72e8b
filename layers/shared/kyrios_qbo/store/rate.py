"""The QBO request budget of a company (10 requests/s, 500/min), shared by every invocation.

One token bucket per company in one item, refilled continuously and taken from with a
compare-and-set on a version number, so concurrent Lambdas never grant more than it allows between
them. A bucket of capacity ``C`` refilled at ``r``/s grants at most ``C + r·T`` in any window of
``T`` seconds, so ``BURST = 2`` and ``RATE = 8``/s keep every 1-second window within 10 and every
60-second window within 500 (2 + 480) — QBO's limits hold for sliding windows, not only on average.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kyrios_qbo.store import _dynamo as db

PER_SECOND = 10
PER_MINUTE = 500
BURST = 2
RATE = 8.0
_MAX_ATTEMPTS = 25
_CONTENDED_WAIT = 0.05
_MIN_WAIT = 0.001


@dataclass(frozen=True)
class BucketState:
    tokens: float
    updated_at: float


def full_bucket(now: float) -> BucketState:
    return BucketState(float(BURST), now)


def refill(state: BucketState, now: float) -> BucketState:
    """Tokens earned since the last update (clock skew between containers never removes tokens)."""
    elapsed = max(0.0, now - state.updated_at)
    return BucketState(min(float(BURST), state.tokens + elapsed * RATE), max(now, state.updated_at))


def try_take(state: BucketState, now: float, tokens: int) -> tuple[BucketState | None, float]:
    """Pure rule: (new state, 0.0) when granted, else (None, seconds until enough tokens)."""
    current = refill(state, now)
    if current.tokens >= tokens:
        return BucketState(current.tokens - tokens, current.updated_at), 0.0
    # Rounding can leave a shortfall of 1e-16: never ask a caller to spin.
    return None, max((tokens - current.tokens) / RATE, _MIN_WAIT)


def _bucket_key(realm_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), "RATE#QBO")


def take_qbo_request_tokens(realm_id: str, n: int = 1) -> float:
    """Take ``n`` request tokens for the company: 0.0 when granted, else seconds to wait (nothing taken).

    Call again after waiting; see :func:`wait_for_qbo_request_tokens`.
    """
    if not 1 <= n <= BURST:
        raise ValueError(f"n must be between 1 and {BURST}")
    key = _bucket_key(realm_id)
    for _attempt in range(_MAX_ATTEMPTS):
        answer = db.client().get_item(TableName=db.table_name(), Key=key, ConsistentRead=True)
        now = db.now()
        item = answer.get("Item")
        if item is None:
            state, version = full_bucket(now), 0
        else:
            state = BucketState(db.get_float(item, "tokens"), db.get_float(item, "bucket_updated_at"))
            version = db.get_int(item, "version")
        new_state, wait = try_take(state, now, n)
        if new_state is None:
            return wait
        try:
            db.client().put_item(
                TableName=db.table_name(),
                Item={
                    **key,
                    "tokens": db.n(new_state.tokens),
                    "bucket_updated_at": db.n(new_state.updated_at),
                    "version": db.n(version + 1),
                },
                ConditionExpression="attribute_not_exists(pk)" if item is None else "version = :version",
                **({} if item is None else {"ExpressionAttributeValues": {":version": db.n(version)}}),
            )
        except Exception as exc:
            if db.is_condition_failure(exc):
                continue  # someone took tokens in between: re-read
            raise
        return 0.0
    return _CONTENDED_WAIT


def wait_for_qbo_request_tokens(realm_id: str, n: int = 1, max_wait_seconds: float = 30.0) -> bool:
    """Block until ``n`` tokens are taken (True) or ``max_wait_seconds`` would be exceeded (False)."""
    deadline = time.monotonic() + max_wait_seconds
    while True:
        wait = take_qbo_request_tokens(realm_id, n)
        if wait == 0.0:
            return True
        if time.monotonic() + wait > deadline:
            return False
        time.sleep(wait)
