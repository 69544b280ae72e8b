"""Every DynamoDB access pattern of the bundle, each a function named for what it does.

Usage: ``from kyrios_qbo import store`` then ``store.connect(...)``, ``store.claim(...)`` etc.; the
batched access patterns of one feature are submodules (``store.imported_invoices``,
``store.import_customers``, ``store.pulled_customers``, ``store.review_opportunities``). Nothing
outside this package touches ``store._dynamo`` (a test checks it).

Single table (``TABLE_NAME``), string keys ``pk``/``sk``, TTL attribute ``expires_at``:

=============================  ===============================  ==========================================
pk                             sk                               what
=============================  ===============================  ==========================================
``ACCOUNT#<account>``          ``CONNECTION``                   connection: status, realm, company,
                                                                settings, tokens + ``token_version``,
                                                                both refresh-token ends (rolling,
                                                                ``refresh_hard_expires_at``) and the
                                                                reconnect notice told
                                                                (``reconnect_warnings``);
                                                                ``gsi1pk=CONNECTED`` while connected;
                                                                ``last_push_at``: last successful push
                                                                (rewritten once a minute at most);
                                                                ``gsi2pk=SWEEP#<shard>``, ``gsi2sk=<due>#
                                                                <account>`` (``sweep``)
``ACCOUNT#<account>``          ``IMPORT_LOCK``                  the running import's id (one at a time)
``ACCOUNT#<account>``          ``IMPORT#<time>-<rand>``         import job and progress
``ACCOUNT#<account>``          ``LOG#<time>#<rand>``            sync log entry (TTL 30 days)
``ACCOUNT#<account>``          ``PARKED#<time>#<rand>``         parked push: body, reason, event id,
                                                                document kind + id, cause (TTL 14
                                                                days; ``parked``)
``REALM#<realm>``              ``OWNER``                        the account owning the company
``REALM#<realm>``              ``CURSOR#<name>``                sync cursor (only moves forward) and
                                                                its run's hold (``hold_owner``)
``REALM#<realm>``              ``LEASE#<name>``                 lease: owner + ``lease_expires_at``
``REALM#<realm>``              ``CLAIM#<key>``                  claim: owner + ``claim_expires_at``
``REALM#<realm>``              ``ONCE#<marker>``                once-marker (an imported invoice's:
                                                                ``imported_invoices``)
``REALM#<realm>``              ``MAP#<kind>#<kyrios id>``       mapping: qbo_id, sync_token,
                                                                applied_version; a push's hold:
                                                                hold_owner + hold_until
``REALM#<realm>``              ``QMAP#<kind>#<qbo id>``         reverse mapping → kyrios_id (written
                                                                before the forward one)
``REALM#<realm>``              ``EMAIL#<normalised email>``     QBO customer id for the email
``REALM#<realm>``              ``RATE#QBO``                     QBO request budget: next due time (``rate``)
``REALM#<realm>``              ``IMPCUST#<import>#<customer>``  a customer an import read from QBO
                                                                (``import_customers``, TTL 7 days)
``REALM#<realm>``              ``PULLED#<qbo customer id>``     poller's record: indexed email, contact
                                                                published (``pulled_customers``)
``REALM#<realm>``              ``REVIEW#<qbo customer id>``     the contact's one review opportunity
                                                                (``review_opportunities``)
``SWEEP#<shard>``              ``STATE``                        sweep's hold, watermark, lap (``sweep``)
``SWEEP#<shard>``              ``USAGE#<YYYY-MM>``              CorePlus calls of the pollers that month
``SWEEP#PLAN``                 ``PLAN``                         sweep interval chosen for the budget,
                                                                connected companies (counted hourly)
``SWEEP#SIGNALS``              ``SIGNALS``                      "sweep everyone" cutoff, last verified
                                                                webhook, silence (``sweep_signals``)
``OAUTH_STATE#<state>``        ``STATE``                        Connect flow started: account, user
``OAUTH_RETURN#<ref>``         ``RETURN``                       Intuit's answer for it: realm, code
                                                                (KMS ciphertext) (``oauth_flows``)
=============================  ===============================  ==========================================

GSI ``gsi1`` (``gsi1pk``/``gsi1sk``, sparse, projects ``account_id`` and ``realm_id``): ``CONNECTED``
/ ``ACCOUNT#<account>`` for the poller's fan-out over connected accounts. GSI ``gsi2`` (sparse, same
projection): ``SWEEP#<shard>`` / ``<due time>#<account>``, the safety sweep's due index.

Company data is keyed by realm, so reconnecting the same company keeps cursors and mappings.
Expiry is always checked against the stored ``*_expires_at`` values: DynamoDB TTL deletes late.
"""

from kyrios_qbo.store._dynamo import Page
from kyrios_qbo.store.connections import (
    DEFAULT_SETTINGS,
    CompanyInfo,
    ConnectedAccount,
    Connection,
    ConnectionStatus,
    EncryptedTokens,
    InvalidSetting,
    connect,
    disconnect,
    get_account_for_realm,
    get_connection,
    list_connected_accounts,
    mark_company_changed,
    mark_needs_reconnect,
    mark_pushed,
    save_tokens,
    update_settings,
)
from kyrios_qbo.store.coordination import (
    POLL_CURSOR,
    Claim,
    Lease,
    acquire_lease,
    advance_cursor,
    claim,
    cursor_moved_at,
    get_claim,
    get_cursor,
    hold_cursor,
    is_marked,
    mark_once,
    release_claim,
    release_cursor,
    release_lease,
    renew_lease,
    unmark,
)
from kyrios_qbo.store.errors import (
    AlreadyConnectedToAnotherCompany,
    ClaimHeld,
    ConcurrentModification,
    ImportAlreadyRunning,
    ImportNotFound,
    ImportNotRunning,
    InvalidCursor,
    InvalidKey,
    LeaseHeld,
    LeaseLost,
    MappingConflict,
    NotConnected,
    OAuthStateInvalid,
    RealmOwnedByAnotherAccount,
    StaleVersion,
    StoreBusy,
    StoreError,
    TokenVersionConflict,
)
from kyrios_qbo.store.imports import (
    ImportJob,
    ImportStatus,
    attach_import_execution,
    create_import,
    finish_import,
    get_import,
    get_running_import_id,
    list_imports,
    settle_cancelled_import,
    update_import_progress,
)
from kyrios_qbo.store.mappings import (
    MAPPING_KINDS,
    IdMapping,
    MappingKind,
    find_customer_by_email,
    find_kyrios_id,
    get_mapping,
    hold_document,
    index_customer_email,
    index_customer_emails,
    mapped_qbo_ids,
    move_customer_email,
    normalize_email,
    put_mapping,
    put_mapping_if_absent,
    release_document,
    update_sync_token,
)
from kyrios_qbo.store.oauth_flows import (
    ReturnedAuthorization,
    StartedFlow,
    consume_oauth_state,
    consume_returned_authorization,
    put_oauth_state,
    put_returned_authorization,
)
from kyrios_qbo.store.rate import reserve_qbo_request, wait_for_qbo_request
from kyrios_qbo.store.synclog import SyncLogEntry, append_sync_log, list_sync_log

__all__ = [
    "DEFAULT_SETTINGS",
    "MAPPING_KINDS",
    "POLL_CURSOR",
    "AlreadyConnectedToAnotherCompany",
    "Claim",
    "ClaimHeld",
    "CompanyInfo",
    "ConcurrentModification",
    "ConnectedAccount",
    "Connection",
    "ConnectionStatus",
    "EncryptedTokens",
    "IdMapping",
    "ImportAlreadyRunning",
    "ImportJob",
    "ImportNotFound",
    "ImportNotRunning",
    "ImportStatus",
    "InvalidCursor",
    "InvalidKey",
    "InvalidSetting",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "MappingConflict",
    "MappingKind",
    "NotConnected",
    "OAuthStateInvalid",
    "Page",
    "RealmOwnedByAnotherAccount",
    "ReturnedAuthorization",
    "StaleVersion",
    "StartedFlow",
    "StoreBusy",
    "StoreError",
    "SyncLogEntry",
    "TokenVersionConflict",
    "acquire_lease",
    "advance_cursor",
    "append_sync_log",
    "attach_import_execution",
    "claim",
    "connect",
    "consume_oauth_state",
    "consume_returned_authorization",
    "create_import",
    "cursor_moved_at",
    "disconnect",
    "find_customer_by_email",
    "find_kyrios_id",
    "finish_import",
    "get_account_for_realm",
    "get_claim",
    "get_connection",
    "get_cursor",
    "get_import",
    "get_mapping",
    "get_running_import_id",
    "hold_cursor",
    "hold_document",
    "index_customer_email",
    "index_customer_emails",
    "is_marked",
    "list_connected_accounts",
    "list_imports",
    "list_sync_log",
    "mapped_qbo_ids",
    "mark_company_changed",
    "mark_needs_reconnect",
    "mark_once",
    "mark_pushed",
    "move_customer_email",
    "normalize_email",
    "put_mapping",
    "put_mapping_if_absent",
    "put_oauth_state",
    "put_returned_authorization",
    "release_claim",
    "release_cursor",
    "release_document",
    "release_lease",
    "renew_lease",
    "reserve_qbo_request",
    "save_tokens",
    "settle_cancelled_import",
    "unmark",
    "update_import_progress",
    "update_settings",
    "update_sync_token",
    "wait_for_qbo_request",
]
