"""The "reconnect soon" notice of a connection: told once per approaching end of authorization.

``reconnect_warned_until`` on the ``CONNECTION`` item is the end of authorization the user was told
about. A conditional write claims the right to tell: it succeeds only when nothing was told yet, or
what was told has since passed (the token was extended after all and is nearing its end again). A
new grant (``connections.connect``) and a disconnect remove it.
"""

from __future__ import annotations

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store.connections import CONNECTION_SK


def claim_notice(account_id: str, realm_id: str, reconnect_by: float, now: float) -> bool:
    """True when the caller must publish the notice for ``reconnect_by`` (nobody did for this
    approach); False when it was told already or the account is not connected to that company."""
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=db.key(db.account_pk(account_id), CONNECTION_SK),
        UpdateExpression="SET reconnect_warned_until = :by",
        ConditionExpression="#status = :connected AND realm_id = :realm AND "
        "(attribute_not_exists(reconnect_warned_until) OR reconnect_warned_until < :now)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":by": db.n(reconnect_by),
            ":now": db.n(now),
            ":connected": db.s("connected"),
            ":realm": db.s(realm_id),
        },
    )


def release_notice(account_id: str, reconnect_by: float) -> None:
    """Give the claim back (the event could not be published: the next refresh tries again)."""
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=db.key(db.account_pk(account_id), CONNECTION_SK),
            UpdateExpression="REMOVE reconnect_warned_until",
            ConditionExpression="reconnect_warned_until = :by",
            ExpressionAttributeValues={":by": db.n(reconnect_by)},
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
