"""Records and matches through group commit: ids, idempotency, bulk, matching rules,
concurrency, derived status and history (known_at)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any
from uuid import UUID

import msgspec
import pytest

from ledger.bootstrap import Services
from ledger.commands.journals import EntryInput, PostJournal
from ledger.commands.reconciliation import CreateMatch, ItemRef
from ledger.commands.records import ImportedRecord, RecordInput
from ledger.errors import (
    AlreadyMatched,
    IdempotencyConflict,
    InvalidState,
    LedgerError,
    MatchUnbalanced,
    NotFound,
)
from ledger.queries.ledgers import LedgerRef
from ledger.queries.records import (
    RecordFilter,
    list_records,
    reconciliation_summary,
    record_document,
)

DAY = dt.date(2026, 6, 3)


async def make_tenant(services: Services, slug: str = "acme") -> UUID:
    await services.tenants.create_tenant(slug, "USD")
    tenant_id: UUID = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", slug
    )
    return tenant_id


def record(stream: str = "bank", amount: int = 1000, **fields: Any) -> RecordInput:
    fields.setdefault("direction", "credit")
    fields.setdefault("date", DAY)
    return RecordInput(data_stream_key=stream, amount=amount, **fields)


async def add(services: Services, tenant_id: UUID, *records: RecordInput) -> list[dict[str, Any]]:
    outcomes = await services.records.import_records(tenant_id, list(records))
    out = []
    for outcome in outcomes:
        assert isinstance(outcome, ImportedRecord), outcome
        out.append(msgspec.json.decode(outcome.document))
    return out


async def get(services: Services, tenant_id: UUID, record_id: int, **kw: Any) -> dict[str, Any]:
    document = await record_document(services.pool, tenant_id, record_id, **kw)
    assert document is not None
    decoded: dict[str, Any] = msgspec.json.decode(document)
    return decoded


def match(tenant_id: UUID, *ids: int | UUID, **fields: Any) -> CreateMatch:
    items = tuple(ItemRef(record_id=i) if isinstance(i, int) else ItemRef(entry_id=i) for i in ids)
    return CreateMatch(tenant_id=tenant_id, items=items, **fields)


@pytest.fixture
async def tenant(services: Services) -> UUID:
    return await make_tenant(services)


async def test_records_get_ids_per_tenant_in_the_seed_shape(
    services: Services, tenant: UUID
) -> None:
    other = await make_tenant(services, "other")
    first, second = await add(
        services,
        tenant,
        record(description="Invoice 1", metadata={"b": 1, "a": {"d": 2, "c": 3}}),
        record("processor", 250, direction="debit", decimal_places=3, external_id="po-1"),
    )
    (theirs,) = await add(services, other, record())
    assert [first["id"], second["id"], theirs["id"]] == [1, 2, 1]
    assert list(first) == [
        "amount",
        "direction",
        "date",
        "data_stream_key",
        "id",
        "decimal_places",
        "description",
        "metadata",
        "status",
        "external_id",
        "matched_records",
        "position",
    ]
    assert first["status"] == "unreconciled"
    assert first["matched_records"] == []
    assert first["metadata"] == {"a": {"c": 3, "d": 2}, "b": 1}
    assert (first["decimal_places"], first["external_id"]) == (2, None)
    assert (second["decimal_places"], second["external_id"]) == (3, "po-1")
    assert await get(services, tenant, 1) == first
    assert await record_document(services.pool, other, 2) is None


async def test_external_ids_replay_or_conflict_per_stream(services: Services, tenant: UUID) -> None:
    (first,) = await add(services, tenant, record(external_id="tx-1"))
    outcomes = await services.records.import_records(
        tenant,
        [
            record(external_id="tx-1"),  # same body: the original
            record(amount=5, external_id="tx-1"),  # another body: conflict
            record("processor", external_id="tx-1"),  # another stream: a new record
        ],
    )
    replay, conflict, other_stream = outcomes
    assert isinstance(replay, ImportedRecord)
    assert replay.replayed
    assert msgspec.json.decode(replay.document) == first
    assert isinstance(conflict, IdempotencyConflict)
    assert conflict.details["record_id"] == first["id"]
    assert isinstance(other_stream, ImportedRecord)
    assert not other_stream.replayed
    count = await services.pool.fetchval("SELECT count(*) FROM records")
    assert count == 2


async def test_concurrent_retries_of_one_key_create_one_record(
    services: Services, tenant: UUID
) -> None:
    results = await asyncio.gather(
        *(services.records.import_record(tenant, record(external_id="k")) for _ in range(20))
    )
    assert sum(not r.replayed for r in results) == 1
    assert len({r.document for r in results}) == 1
    assert await services.pool.fetchval("SELECT count(*) FROM records") == 1


async def test_a_bulk_of_ten_thousand_is_one_command(services: Services, tenant: UUID) -> None:
    records = [record(amount=i + 1, external_id=f"b-{i}") for i in range(10_000)]
    batches_before = services.committer.batches_committed
    outcomes = await services.records.import_records(tenant, records)
    assert services.committer.batches_committed == batches_before + 1
    ids = [msgspec.json.decode(o.document)["id"] for o in outcomes if isinstance(o, ImportedRecord)]
    assert ids == list(range(1, 10_001))
    again = await services.records.import_records(tenant, records[:3])
    assert all(isinstance(o, ImportedRecord) and o.replayed for o in again)
    assert await services.pool.fetchval("SELECT count(*) FROM records") == 10_000


async def books(services: Services, tenant: UUID) -> tuple[UUID, UUID, UUID]:
    """Cash and revenue ledgers and one journal: (journal id, cash entry, revenue entry)."""
    await services.ledgers.open_ledger(tenant, code="cash", name="Cash", type="asset")
    await services.ledgers.open_ledger(tenant, code="revenue", name="Revenue", type="income")
    posted = await services.journals.post(
        PostJournal(
            tenant_id=tenant,
            base_currency="USD",
            date=DAY,
            entries=(
                EntryInput(ref=LedgerRef.by_code("cash"), direction="debit", amount=1000),
                EntryInput(ref=LedgerRef.by_code("revenue"), direction="credit", amount=1000),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )
    )
    document = msgspec.json.decode(posted.document)
    return (
        UUID(document["id"]),
        UUID(document["entries"][0]["id"]),
        UUID(document["entries"][1]["id"]),
    )


async def test_a_match_reconciles_records_and_entries(services: Services, tenant: UUID) -> None:
    _journal, cash_entry, _ = await books(services, tenant)
    bank, processor = await add(
        services, tenant, record(), record("processor", direction="debit", amount=400)
    )
    with pytest.raises(MatchUnbalanced):
        await services.reconciliation.create_match(match(tenant, bank["id"], processor["id"]))
    made = await services.reconciliation.create_match(
        match(tenant, bank["id"], processor["id"], tolerance=600, note="fee")
    )
    assert (made.status, made.difference, made.tolerance) == ("active", 600, 600)
    now = await get(services, tenant, bank["id"])
    assert now["status"] == "reconciled"
    assert now["matched_records"] == [
        {
            "id": processor["id"],
            "amount": 400,
            "decimal_places": 2,
            "direction": "debit",
            "data_stream_key": "processor",
        }
    ]
    # The processor record is taken: 409, whoever asks.
    (other,) = await add(services, tenant, record("other", direction="credit", amount=400))
    with pytest.raises(AlreadyMatched) as taken:
        await services.reconciliation.create_match(match(tenant, processor["id"], other["id"]))
    assert taken.value.details["match_id"] == str(made.id)
    # Entries are items of the stream ledger:<code>.
    (deposit,) = await add(services, tenant, record("bank", direction="credit", amount=1000))
    entry_match = await services.reconciliation.create_match(
        match(tenant, deposit["id"], cash_entry)
    )
    assert [i.data_stream_key for i in entry_match.items] == ["bank", "ledger:cash"]
    with pytest.raises(NotFound) as missing:
        await services.reconciliation.create_match(match(tenant, deposit["id"], 999))
    assert missing.value.details["item_index"] == 1


async def test_items_from_one_stream_do_not_match(services: Services, tenant: UUID) -> None:
    a, b = await add(services, tenant, record(), record(direction="debit"))
    with pytest.raises(MatchUnbalanced) as caught:
        await services.reconciliation.create_match(match(tenant, a["id"], b["id"]))
    assert caught.value.details["reason"] == "single_data_stream"


async def test_decimal_places_are_compared_at_the_larger_scale(
    services: Services, tenant: UUID
) -> None:
    a, b = await add(
        services,
        tenant,
        record(amount=150),  # 1.50
        record("fx", amount=1500, direction="debit", decimal_places=3),  # 1.500
    )
    made = await services.reconciliation.create_match(match(tenant, a["id"], b["id"]))
    assert (made.difference, made.decimal_places) == (0, 3)


async def test_unmatching_makes_items_unreconciled_and_keeps_history(
    services: Services, tenant: UUID
) -> None:
    a, b = await add(services, tenant, record(), record("processor", direction="debit"))
    before = a["position"]
    made = await services.reconciliation.create_match(match(tenant, a["id"], b["id"]))
    assert made.position is not None
    assert made.id is not None
    unmatched = msgspec.json.decode(await services.reconciliation.unmatch(tenant, made.id))
    assert unmatched["status"] == "unmatched"
    assert unmatched["position"] > made.position
    assert (await get(services, tenant, a["id"]))["status"] == "unreconciled"
    # As known at each position, the history is a query.
    assert (await get(services, tenant, a["id"], known_at=before))["status"] == "unreconciled"
    at_match = await get(services, tenant, a["id"], known_at=made.position)
    assert at_match["status"] == "reconciled"
    assert at_match["matched_records"][0]["id"] == b["id"]
    assert await record_document(services.pool, tenant, b["id"], known_at=before) is None
    with pytest.raises(InvalidState):
        await services.reconciliation.unmatch(tenant, made.id)
    with pytest.raises(NotFound):
        await services.reconciliation.unmatch(tenant, uuid.uuid4())
    # The items can be matched again.
    again = await services.reconciliation.create_match(match(tenant, a["id"], b["id"]))
    assert again.status == "active"


async def test_two_concurrent_matches_of_one_record_exactly_one_wins(
    services: Services, tenant: UUID
) -> None:
    shared, x, y = await add(
        services,
        tenant,
        record(),
        record("processor", direction="debit"),
        record("ledgerish", direction="debit"),
    )
    for _ in range(3):
        results = await asyncio.gather(
            services.reconciliation.create_match(match(tenant, shared["id"], x["id"])),
            services.reconciliation.create_match(match(tenant, shared["id"], y["id"])),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1
        assert len(losers) == 1
        assert isinstance(losers[0], AlreadyMatched)
        active = await services.pool.fetchval(
            "SELECT count(*) FROM match_items WHERE record_id = $1 AND unmatched_position IS NULL",
            shared["id"],
        )
        assert active == 1
        winner = winners[0]
        assert winner.id is not None
        await services.reconciliation.unmatch(tenant, winner.id)


async def test_concurrent_matches_from_two_processes_exactly_one_wins(
    services: Services, settings: Any, tenant: UUID
) -> None:
    # Two service instances = two group committers, two connections: only the row locks
    # (and the unique index) can decide.
    from ledger.bootstrap import open_services

    shared, x, y = await add(
        services,
        tenant,
        record(),
        record("processor", direction="debit"),
        record("other", direction="debit"),
    )
    async with open_services(settings, run_projections=False) as second:
        results = await asyncio.gather(
            services.reconciliation.create_match(match(tenant, shared["id"], x["id"])),
            second.reconciliation.create_match(match(tenant, shared["id"], y["id"])),
            return_exceptions=True,
        )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, AlreadyMatched) for r in results) == 1
    assert (
        await services.pool.fetchval(
            "SELECT count(*) FROM match_items WHERE unmatched_position IS NULL"
        )
        == 2
    )


async def test_entries_of_voided_journals_cannot_be_matched(
    services: Services, tenant: UUID
) -> None:
    await services.ledgers.open_ledger(tenant, code="cash", name="Cash", type="asset")
    await services.ledgers.open_ledger(tenant, code="sales", name="Sales", type="income")
    posted = await services.journals.post(
        PostJournal(
            tenant_id=tenant,
            base_currency="USD",
            date=DAY,
            status="pending",
            entries=(
                EntryInput(ref=LedgerRef.by_code("cash"), direction="debit", amount=10),
                EntryInput(ref=LedgerRef.by_code("sales"), direction="credit", amount=10),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )
    )
    document = msgspec.json.decode(posted.document)
    await services.journals.change_status(tenant, UUID(document["id"]), "void")
    (bank,) = await add(services, tenant, record(amount=10))
    with pytest.raises(InvalidState):
        await services.reconciliation.create_match(
            match(tenant, bank["id"], UUID(document["entries"][0]["id"]))
        )


async def test_list_filters_and_summary(services: Services, tenant: UUID) -> None:
    a, b, c, _d = await add(
        services,
        tenant,
        record(amount=100, date=dt.date(2026, 6, 1)),
        record("processor", amount=100, direction="debit", date=dt.date(2026, 6, 2)),
        record(amount=300, date=dt.date(2026, 6, 5)),
        record("processor", amount=50, direction="credit", date=dt.date(2026, 6, 6)),
    )
    made = await services.reconciliation.create_match(match(tenant, a["id"], b["id"]))
    assert made.position is not None

    async def ids(**kw: Any) -> list[int]:
        documents, _ = await list_records(services.pool, tenant, RecordFilter(**kw), 50, None)
        return [msgspec.json.decode(d)["id"] for d in documents]

    assert await ids() == [1, 2, 3, 4]
    assert await ids(data_stream_key="bank") == [1, 3]
    assert await ids(status="reconciled") == [1, 2]
    assert await ids(status="unreconciled", data_stream_key="processor") == [4]
    assert await ids(date_from=dt.date(2026, 6, 2), date_to=dt.date(2026, 6, 5)) == [2, 3]
    assert await ids(status="reconciled", known_at=made.position - 1) == []
    page, cursor = await list_records(services.pool, tenant, RecordFilter(), 3, None)
    assert len(page) == 3
    assert cursor is not None
    rest, end = await list_records(services.pool, tenant, RecordFilter(), 3, cursor)
    assert [msgspec.json.decode(d)["id"] for d in rest] == [4]
    assert end is None

    summary = msgspec.json.decode(
        await reconciliation_summary(services.pool, tenant, "bank", None, None)
    )
    assert summary["reconciled"] == {"count": 1, "amount": 100, "debits": 0, "credits": 100}
    assert summary["unreconciled"] == {"count": 1, "amount": 300, "debits": 0, "credits": 300}
    everything = msgspec.json.decode(
        await reconciliation_summary(services.pool, tenant, None, dt.date(2026, 6, 2), None)
    )
    assert everything["reconciled"]["count"] == 2
    assert everything["unreconciled"]["count"] == 0
    assert [s["data_stream_key"] for s in everything["streams"]] == ["bank", "processor"]
    back_then = msgspec.json.decode(
        await reconciliation_summary(services.pool, tenant, None, None, made.position - 1)
    )
    assert back_then["reconciled"]["count"] == 0
    assert back_then["unreconciled"]["count"] == 4
    assert c["status"] == "unreconciled"


async def test_journals_show_reconciled_entries(services: Services, tenant: UUID) -> None:
    from ledger.queries.journals import journal_document

    journal_id, cash_entry, _ = await books(services, tenant)

    async def document() -> dict[str, Any]:
        raw = await journal_document(services.pool, tenant, journal_id, DAY)
        assert raw is not None
        decoded: dict[str, Any] = msgspec.json.decode(raw)
        return decoded

    before = await document()
    assert (before["reconciled"], before["reconciled_at"]) == (False, None)
    assert [e["reconciled"] for e in before["entries"]] == [False, False]
    (bank,) = await add(services, tenant, record())
    made = await services.reconciliation.create_match(match(tenant, bank["id"], cash_entry))
    after = await document()
    assert after["reconciled"] is True
    assert after["reconciled_at"] is not None
    assert [e["reconciled"] for e in after["entries"]] == [True, False]
    assert after["entries"][0]["reconciled_at"] == after["reconciled_at"]
    assert made.id is not None
    await services.reconciliation.unmatch(tenant, made.id)
    assert (await document())["reconciled"] is False


async def test_a_refused_match_changes_nothing(services: Services, tenant: UUID) -> None:
    a, b = await add(services, tenant, record(), record("processor", direction="debit", amount=1))
    before = await services.store.max_position()
    with pytest.raises(LedgerError):
        await services.reconciliation.create_match(match(tenant, a["id"], b["id"]))
    assert await services.store.max_position() == before
