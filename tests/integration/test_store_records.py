"""Mappings, the email index, import jobs and the sync log against local DynamoDB (moto)."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from kyrios_qbo import store

pytestmark = pytest.mark.usefixtures("local_aws")


# ---------------------------------------------------------------------------------------- mappings
def test_mapping_round_trip_both_directions(realm_id):
    mapping = store.put_mapping(realm_id, "invoice", "inv-1", qbo_id="130", sync_token="0", applied_version=1)

    assert mapping.qbo_id == "130" and mapping.applied_version == 1
    assert store.get_mapping(realm_id, "invoice", "inv-1") == mapping
    assert store.find_kyrios_id(realm_id, "invoice", "130") == "inv-1"
    assert store.find_kyrios_id(realm_id, "payment", "130") is None  # kinds are separate
    assert store.get_mapping(realm_id, "invoice", "inv-2") is None


def test_mapping_accepts_only_newer_versions(realm_id):
    store.put_mapping(realm_id, "invoice", "inv-1", qbo_id="130", sync_token="0", applied_version=2)

    for version in (1, 2):
        with pytest.raises(store.StaleVersion) as caught:
            store.put_mapping(
                realm_id, "invoice", "inv-1", qbo_id="130", sync_token="9", applied_version=version
            )
        assert caught.value.current == 2
    newer = store.put_mapping(realm_id, "invoice", "inv-1", qbo_id="130", sync_token="1", applied_version=3)
    assert store.get_mapping(realm_id, "invoice", "inv-1") == newer


def test_mapping_writes_are_single_conditional_writes_without_reads(realm_id):
    """A first mapping is two plain writes (reverse, then forward), every later version of the same QBO
    object one: no read first, no transaction (DynamoDB bills a transaction's items double)."""
    from kyrios_qbo.store import _dynamo

    operations: list[str] = []

    def record(model, **_kwargs):
        operations.append(model.name)

    events = _dynamo.client().meta.events
    events.register("before-call.dynamodb", record)
    try:
        store.put_mapping(
            realm_id, "invoice", "inv-cost", qbo_id="131", sync_token="0", applied_version=1, new=True
        )
        first = list(operations)
        operations.clear()
        store.put_mapping(realm_id, "invoice", "inv-cost", qbo_id="131", sync_token="1", applied_version=2)
        second = list(operations)
        operations.clear()
        store.put_mapping(realm_id, "invoice", "inv-other", qbo_id="132", sync_token="0", applied_version=1)
        unannounced = list(operations)
    finally:
        events.unregister("before-call.dynamodb", record)

    assert first == ["PutItem", "UpdateItem"]
    assert second == ["UpdateItem"]
    assert unannounced == ["UpdateItem", "PutItem", "UpdateItem"]  # the cheap guess failed once
    assert store.find_kyrios_id(realm_id, "invoice", "131") == "inv-cost"
    assert store.get_mapping(realm_id, "invoice", "inv-cost").applied_version == 2
    assert store.get_mapping(realm_id, "invoice", "inv-other").qbo_id == "132"


def test_a_reverse_item_is_never_missing_for_a_forward_one(realm_id):
    """Writers racing to map one document to different QBO objects: whatever the forward item ends up
    naming has its reverse item, and no QBO object is claimed by two documents."""
    qbo_ids = [str(300 + i) for i in range(6)]
    barrier = threading.Barrier(len(qbo_ids))

    def write(index: int) -> None:
        barrier.wait()
        with contextlib.suppress(store.StaleVersion):
            store.put_mapping(
                realm_id, "sales_receipt", "sr-race", qbo_id=qbo_ids[index], sync_token="0",
                applied_version=index + 1, new=index % 2 == 0,
            )

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(qbo_ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = store.get_mapping(realm_id, "sales_receipt", "sr-race")
    assert final is not None
    assert store.find_kyrios_id(realm_id, "sales_receipt", final.qbo_id) == "sr-race"


def test_racing_writers_newest_version_wins(realm_id):
    versions = list(range(1, 11))
    outcomes: dict[int, str] = {}
    barrier = threading.Barrier(len(versions))

    def write(version: int) -> None:
        barrier.wait()
        try:
            store.put_mapping(
                realm_id,
                "invoice",
                "inv-race",
                qbo_id="200",
                sync_token=str(version),
                applied_version=version,
            )
            outcomes[version] = "applied"
        except store.StaleVersion:
            outcomes[version] = "stale"

    threads = [threading.Thread(target=write, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = store.get_mapping(realm_id, "invoice", "inv-race")
    assert final.applied_version == 10 and final.sync_token == "10"
    assert outcomes[10] == "applied"
    assert set(outcomes.values()) <= {"applied", "stale"} and len(outcomes) == 10


# ---------------------------------------------------------------------------------------- holds
def test_a_hold_reads_the_mapping_and_excludes_other_pushers(realm_id):
    assert store.hold_document(realm_id, "invoice", "inv-h", "push-a", 30) is None  # not in QBO yet
    with pytest.raises(store.LeaseHeld) as caught:
        store.hold_document(realm_id, "invoice", "inv-h", "push-b", 30)
    assert caught.value.holder == "push-a"
    assert store.hold_document(realm_id, "invoice", "inv-h", "push-a", 30) is None  # its own: renewed
    assert store.get_mapping(realm_id, "invoice", "inv-h") is None  # a hold alone maps nothing

    store.put_mapping(
        realm_id, "invoice", "inv-h", qbo_id="140", sync_token="0", applied_version=1, new=True,
        release="push-a",
    )
    held = store.hold_document(realm_id, "invoice", "inv-h", "push-b", 30)  # let go by that write
    assert held is not None and (held.qbo_id, held.applied_version) == ("140", 1)
    assert store.release_document(realm_id, "invoice", "inv-h", "push-b", mapped=True) is True
    assert store.get_mapping(realm_id, "invoice", "inv-h").applied_version == 1  # the mapping stays


def test_an_expired_hold_can_be_taken_over(realm_id):
    store.hold_document(realm_id, "sales_receipt", "sr-h", "push-a", 0.2)
    time.sleep(0.3)
    assert store.hold_document(realm_id, "sales_receipt", "sr-h", "push-b", 30) is None
    # The late owner records its version but cannot let go of the new owner's hold.
    store.put_mapping(
        realm_id, "sales_receipt", "sr-h", qbo_id="12", sync_token="0", applied_version=1, new=True,
        release="push-a",
    )
    with pytest.raises(store.LeaseHeld):
        store.hold_document(realm_id, "sales_receipt", "sr-h", "push-c", 30)
    assert store.release_document(realm_id, "sales_receipt", "sr-h", "push-a", mapped=True) is False
    assert store.get_mapping(realm_id, "sales_receipt", "sr-h").qbo_id == "12"


def test_releasing_a_document_never_pushed_leaves_nothing_behind(realm_id):
    from kyrios_qbo.store import _dynamo

    store.hold_document(realm_id, "invoice", "inv-gone", "push-a", 30)
    assert store.release_document(realm_id, "invoice", "inv-gone", "push-a", mapped=False) is True
    key = {"pk": {"S": f"REALM#{realm_id}"}, "sk": {"S": "MAP#invoice#inv-gone"}}
    assert "Item" not in _dynamo.client().get_item(TableName=_dynamo.table_name(), Key=key)
    # mapped=False on a document that is in QBO after all: the mapping stays, only the hold goes.
    store.hold_document(realm_id, "invoice", "inv-kept", "push-a", 30)
    store.put_mapping(
        realm_id, "invoice", "inv-kept", qbo_id="141", sync_token="0", applied_version=0, new=True
    )
    assert store.release_document(realm_id, "invoice", "inv-kept", "push-a", mapped=False) is True
    assert store.get_mapping(realm_id, "invoice", "inv-kept").qbo_id == "141"
    assert store.hold_document(realm_id, "invoice", "inv-kept", "push-b", 30) is not None


def test_qbo_id_cannot_belong_to_two_kyrios_documents(realm_id):
    store.put_mapping(realm_id, "customer", "c-1", qbo_id="58", sync_token=None, applied_version=1)
    with pytest.raises(store.MappingConflict) as caught:
        store.put_mapping(realm_id, "customer", "c-2", qbo_id="58", sync_token=None, applied_version=1)
    assert caught.value.kyrios_id == "c-1"
    assert store.get_mapping(realm_id, "customer", "c-2") is None


def test_changing_qbo_id_moves_the_reverse_mapping(realm_id):
    store.put_mapping(realm_id, "sales_receipt", "sr-1", qbo_id="10", sync_token="0", applied_version=1)
    store.put_mapping(realm_id, "sales_receipt", "sr-1", qbo_id="11", sync_token="0", applied_version=2)
    assert store.find_kyrios_id(realm_id, "sales_receipt", "10") is None
    assert store.find_kyrios_id(realm_id, "sales_receipt", "11") == "sr-1"


def test_put_mapping_if_absent_keeps_the_first(realm_id):
    first = store.put_mapping_if_absent(realm_id, "item", "Consulting", qbo_id="5")
    second = store.put_mapping_if_absent(realm_id, "item", "Consulting", qbo_id="6")
    assert second == first and second.qbo_id == "5"


def test_update_sync_token(realm_id):
    store.put_mapping(realm_id, "invoice", "inv-1", qbo_id="130", sync_token="0", applied_version=1)
    store.update_sync_token(realm_id, "invoice", "inv-1", "1")
    mapping = store.get_mapping(realm_id, "invoice", "inv-1")
    assert mapping.sync_token == "1" and mapping.applied_version == 1
    with pytest.raises(store.InvalidKey):
        store.update_sync_token(realm_id, "invoice", "missing", "1")


def test_unknown_mapping_kind_is_a_typed_error(realm_id):
    with pytest.raises(store.InvalidKey):
        store.get_mapping(realm_id, "estimate", "x")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- email index
def test_email_index_is_normalised_and_movable(realm_id):
    store.index_customer_email(realm_id, "  Ann@Example.COM ", "58")
    assert store.find_customer_by_email(realm_id, "ann@example.com") == "58"

    store.move_customer_email(realm_id, "58", "ann@example.com", "ann@new.example")
    assert store.find_customer_by_email(realm_id, "ann@example.com") is None
    assert store.find_customer_by_email(realm_id, "ANN@new.example") == "58"


def test_moving_email_leaves_an_address_now_owned_by_another_customer(realm_id):
    store.index_customer_email(realm_id, "shared@example.com", "60")
    store.move_customer_email(realm_id, "58", "shared@example.com", "own@example.com")
    assert store.find_customer_by_email(realm_id, "shared@example.com") == "60"
    assert store.find_customer_by_email(realm_id, "own@example.com") == "58"


def test_invalid_email_is_a_typed_error(realm_id):
    with pytest.raises(store.InvalidKey):
        store.find_customer_by_email(realm_id, "not an email")


# ---------------------------------------------------------------------------------------- imports
def test_one_running_import_per_account(account_id):
    job = store.create_import(account_id, {"from": "2025-01-01", "to": "2025-12-31"})
    assert job.status == "running" and job.params == {"from": "2025-01-01", "to": "2025-12-31"}
    assert store.get_running_import_id(account_id) == job.job_id

    with pytest.raises(store.ImportAlreadyRunning) as caught:
        store.create_import(account_id, {})
    assert caught.value.running_job_id == job.job_id

    store.finish_import(account_id, job.job_id, "succeeded", summary={"invoices": 3})
    assert store.get_running_import_id(account_id) is None
    assert store.create_import(account_id, {}).status == "running"


def test_concurrent_import_starts_have_one_winner(account_id):
    results: list[str] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait()
        try:
            store.create_import(account_id, {})
            results.append("started")
        except store.ImportAlreadyRunning:
            results.append("refused")

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("started") == 1
    assert len(store.list_imports(account_id).items) == 1


def test_import_progress_is_monotonic_and_finish_is_final(account_id):
    job = store.create_import(account_id, {})
    store.attach_import_execution(account_id, job.job_id, "arn:aws:states:us-east-1:1:execution:sm:x")

    assert store.update_import_progress(account_id, job.job_id, 10, total=100) is True
    assert store.update_import_progress(account_id, job.job_id, 5) is False  # retried older step
    assert store.update_import_progress(account_id, job.job_id, 40) is True
    current = store.get_import(account_id, job.job_id)
    assert (current.processed, current.total) == (40, 100)
    assert current.execution_arn.endswith(":x")

    done = store.finish_import(account_id, job.job_id, "cancelled", reason="cancelled by user")
    assert done.status == "cancelled" and done.reason == "cancelled by user" and done.finished_at
    assert store.finish_import(account_id, job.job_id, "cancelled").status == "cancelled"  # idempotent
    with pytest.raises(store.ImportNotRunning):
        store.finish_import(account_id, job.job_id, "succeeded")
    with pytest.raises(store.ImportNotRunning):
        store.update_import_progress(account_id, job.job_id, 50)


def test_cancel_keeps_the_running_figures_and_the_step_settles_what_it_did(account_id):
    job = store.create_import(account_id, {})
    figures = {"published": 100, "paid": 30}
    assert store.update_import_progress(account_id, job.job_id, 100, total=300, summary=figures) is True
    assert store.get_import(account_id, job.job_id).summary == figures
    assert store.settle_cancelled_import(account_id, job.job_id, 120, {"published": 120}) is False  # running

    done = store.finish_import(account_id, job.job_id, "cancelled", reason="Cancelled by the user.")
    assert (done.processed, done.summary) == (100, figures)  # the cancel does not touch the figures
    with pytest.raises(store.ImportNotRunning):
        store.update_import_progress(account_id, job.job_id, 110, summary={"published": 110})
    really = {"published": 110, "paid": 33}
    assert store.settle_cancelled_import(account_id, job.job_id, 110, really) is True
    settled = store.get_import(account_id, job.job_id)
    assert (settled.status, settled.processed, settled.summary) == ("cancelled", 110, really)
    assert store.settle_cancelled_import(account_id, job.job_id, 90, {"published": 90}) is False  # never back


def test_missing_import_is_a_typed_error(account_id):
    assert store.get_import(account_id, "nope") is None
    with pytest.raises(store.ImportNotFound):
        store.update_import_progress(account_id, "nope", 1)
    with pytest.raises(store.ImportNotFound):
        store.finish_import(account_id, "nope", "failed")


def test_list_imports_newest_first_with_paging(account_id):
    ids = []
    for _ in range(3):
        job = store.create_import(account_id, {})
        store.finish_import(account_id, job.job_id, "succeeded")
        ids.append(job.job_id)
        time.sleep(0.002)
    first = store.list_imports(account_id, limit=2)
    second = store.list_imports(account_id, limit=2, cursor=first.cursor)
    assert [job.job_id for job in first.items + second.items] == list(reversed(ids))
    with pytest.raises(store.InvalidCursor):
        store.list_imports(f"other-{account_id}", cursor=first.cursor)


# ---------------------------------------------------------------------------------------- sync log
def test_sync_log_is_newest_first_and_paged(account_id):
    for number in range(5):
        store.append_sync_log(
            account_id,
            kind="invoice.push",
            direction="push",
            entity=f"Invoice INV-{number}",
            outcome="failed" if number == 3 else "ok",
            message="QuickBooks needs a tax code" if number == 3 else "Created in QuickBooks",
            qbo_detail="6000 business validation error" if number == 3 else None,
            intuit_tid="1-abc" if number == 3 else None,
        )
    first = store.list_sync_log(account_id, limit=3)
    second = store.list_sync_log(account_id, limit=3, cursor=first.cursor)

    entities = [entry.entity for entry in first.items + second.items]
    assert entities == [f"Invoice INV-{n}" for n in (4, 3, 2, 1, 0)]
    failed = first.items[1]
    assert (failed.outcome, failed.qbo_detail, failed.intuit_tid) == (
        "failed",
        "6000 business validation error",
        "1-abc",
    )
    assert first.items[0].qbo_detail is None


def test_sync_log_cursor_is_bound_to_the_account(account_id):
    for _ in range(3):
        store.append_sync_log(account_id, kind="k", direction="pull", entity="e", outcome="ok", message="m")
    page = store.list_sync_log(account_id, limit=1)
    with pytest.raises(store.InvalidCursor):
        store.list_sync_log(f"other-{account_id}", cursor=page.cursor)
    with pytest.raises(store.InvalidCursor):
        store.list_sync_log(account_id, cursor="garbage")


def test_sync_log_rejects_unknown_outcome(account_id):
    with pytest.raises(ValueError):
        store.append_sync_log(account_id, kind="k", direction="push", entity="e", outcome="meh", message="m")
