"""Golden streams: small stored event streams and the rows each projection must make of them.

``projections/golden/<projection>/<case>.events.jsonl`` holds stored events, one JSON object
per line (``position``, ``originator_id``, ``originator_version``, ``topic``, ``tenant_id``
and ``state``, the stored JSON); ``<case>.expected.json`` the projection's rows per table
(JSON values: UUIDs, dates and decimals as strings, bytes as hex; surrogate keys left out;
rows sorted). The test folds each stream into empty tables with the projection's own code,
after the projections listed before it (``bootstrap.all_projections``: books' entries
reference ledgers' rows), and, where a projection has one, with its fast path over stored
rows too, and compares its tables.

To (re)generate after an intended change of a fold or of the scenarios below::

    LEDGER_GOLDEN_UPDATE=1 .venv/bin/pytest tests/projections/test_golden.py

then read the diff of ``projections/golden/`` before committing it. The ``journals`` and
``fx`` streams hold ``JournalPosted`` events stored at ``class_version`` 1 (docs/books.md,
"``JournalPosted`` versions"): they prove old logs still fold to the same rows, so their
``.events.jsonl`` files are never regenerated (``VERSION_1_CASES``: the generator skips them;
their ``.expected.json`` is rewritten like any other when a table gains a column).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.bootstrap import Services, all_projections
from ledger.commands.journals import AmendJournal, AnnotateJournal, reverse_journal
from ledger.domain.annotations import NotesPatch
from ledger.projections.replay import table_rows
from ledger.projections.runner import StoredRowProjection
from ledger.store.group_commit import InlineProjection, PositionedEvent
from ledger.store.mapper import MsgspecMapper
from tests.projections.helpers import BASE_DATE, Books, open_books, post, posting

GOLDEN = Path(__file__).resolve().parents[2] / "projections" / "golden"
UPDATE = os.environ.get("LEDGER_GOLDEN_UPDATE") == "1"
# Streams of events stored at ``JournalPosted`` class_version 1: history, never re-recorded.
VERSION_1_CASES = frozenset({"journals", "fx"})
# Which cases each projection is checked against.
CASES: dict[str, tuple[str, ...]] = {
    "tenants": ("journals", "keys"),
    "currencies": ("fx",),
    "ledgers": ("journals",),
    "books": ("annotations", "journals", "fx", "amend"),
    "trial_balance": ("annotations", "journals", "fx", "amend"),
}
_mapper = MsgspecMapper()


# --- the scenarios that make the streams ---------------------------------------------------


async def _journals(services: Services) -> None:
    books = await open_books(services, ledgers=4)
    child = await services.ledgers.open_ledger(
        books.tenant_id,
        code="l0-child",
        name="Child",
        type="asset",
        parent=None,
    )
    books = Books(books.tenant_id, [*books.ledgers, child.ledger_id])
    await post(services, books, 0, 1, 1_000)
    await post(services, books, 4, 1, 250, day=BASE_DATE + dt.timedelta(days=1))
    pending, _ = await post(services, books, 2, 0, 75, status="pending")
    await services.journals.change_status(books.tenant_id, pending, "commit")
    voided, _ = await post(services, books, 2, 0, 33, status="pending")
    await services.journals.change_status(books.tenant_id, voided, "void")
    later, _ = await post(services, books, 0, 3, 500, day=BASE_DATE + dt.timedelta(days=30))
    await reverse_journal(services.journals, services.pool, books.tenant_id, later, None, None)
    await post(services, books, 2, 1, 12, status="pending")  # left pending
    await services.ledgers.update_ledger(books.tenant_id, books.ledgers[3], name="Renamed")
    await services.ledgers.close_ledger(books.tenant_id, books.ledgers[3])


async def _keys(services: Services) -> None:
    await services.tenants.create_tenant("acme", "USD", "Acme")
    key, _ = await services.tenants.create_key("acme")
    await services.tenants.revoke_key(key.key_id)
    await services.tenants.create_tenant("globex", "JPY")


async def _fx(services: Services) -> None:
    books = await open_books(services, ledgers=2)
    await services.currencies.add_currency(books.tenant_id, "BTC", 8)
    await services.currencies.set_fx_rate(
        books.tenant_id, "EUR", "USD", Decimal("1.0842"), BASE_DATE
    )
    await services.currencies.set_fx_rate(
        books.tenant_id, "EUR", "USD", Decimal("1.0900"), BASE_DATE
    )
    await services.currencies.set_fx_rate(
        books.tenant_id, "USD", "BTC", Decimal("0.00001"), BASE_DATE
    )
    from ledger.commands.journals import EntryInput, PostJournal
    from ledger.queries.ledgers import LedgerRef

    for currency, amount in (("EUR", 1_001), ("BTC", 123_456)):
        await services.journals.post(
            PostJournal(
                tenant_id=books.tenant_id,
                base_currency="USD",
                date=BASE_DATE,
                currency=currency,
                entries=(
                    EntryInput(
                        ref=LedgerRef.by_id(books.ledgers[0]), direction="debit", amount=amount
                    ),
                    EntryInput(
                        ref=LedgerRef.by_id(books.ledgers[1]), direction="credit", amount=amount
                    ),
                ),
                request_sha256=bytes(range(32)),
            )
        )


async def _amend(services: Services) -> None:
    """``JournalPosted`` at ``class_version`` 2: a journal amended twice (lineage both ways,
    the amended versions reversed), one amended in the future, one left alone, one with a
    reporting currency, reversed."""
    books = await open_books(services, ledgers=3)
    first, _ = await post(services, books, 0, 1, 1_000)
    second = await services.journals.amend(
        AmendJournal(
            tenant_id=books.tenant_id,
            journal_id=first,
            replacement=posting(books, 0, 2, 1_200, amends=first),
        )
    )
    second_id = UUID(msgspec.json.decode(second.document)["id"])
    await services.journals.amend(
        AmendJournal(
            tenant_id=books.tenant_id,
            journal_id=second_id,
            replacement=posting(
                books, 0, 2, 900, day=BASE_DATE + dt.timedelta(days=2), amends=second_id
            ),
        )
    )
    later, _ = await post(services, books, 1, 2, 40, day=BASE_DATE + dt.timedelta(days=40))
    await services.journals.amend(
        AmendJournal(
            tenant_id=books.tenant_id,
            journal_id=later,
            replacement=posting(
                books, 1, 2, 45, day=BASE_DATE + dt.timedelta(days=41), amends=later
            ),
        )
    )
    await post(services, books, 2, 0, 7)
    # A reporting currency: amounts and rates in the event, nothing more in the books.
    await services.currencies.set_fx_rate(
        books.tenant_id, "USD", "EUR", Decimal("0.9215"), BASE_DATE
    )
    reporting = dataclasses.replace(posting(books, 1, 0, 1_001), reporting_currency="EUR")
    reported = await services.journals.post(reporting)
    await reverse_journal(
        services.journals,
        services.pool,
        books.tenant_id,
        UUID(msgspec.json.decode(reported.document)["id"]),
        None,
        None,
    )


async def _annotations(services: Services) -> None:
    books = await open_books(services, ledgers=2)

    async def annotate(journal_id: UUID, patch: NotesPatch) -> None:
        await services.journals.annotate(
            AnnotateJournal(tenant_id=books.tenant_id, journal_id=journal_id, patch=patch)
        )

    first, _ = await post(services, books, 0, 1, 1_000)
    await annotate(first, NotesPatch(description="first", metadata={"a": 1, "b": [2]}))
    await annotate(first, NotesPatch(reference="ref-1", metadata={"b": "", "c": {"d": 3}}))
    await annotate(first, NotesPatch(description=None))
    pending, _ = await post(services, books, 1, 0, 20, status="pending")
    await annotate(pending, NotesPatch(reference="held"))
    await services.journals.change_status(books.tenant_id, pending, "commit")
    await annotate(pending, NotesPatch(metadata={"after": "commit"}))
    undone, _ = await post(services, books, 0, 1, 7)
    await reverse_journal(services.journals, services.pool, books.tenant_id, undone, None, None)
    await annotate(undone, NotesPatch(description="reversed, then noted"))
    await annotate(undone, NotesPatch(description="reversed, then noted"))  # no event


SCENARIOS = {
    "annotations": _annotations,
    "journals": _journals,
    "keys": _keys,
    "fx": _fx,
    "amend": _amend,
}


# --- reading, normalising, comparing -------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def _rows(conn: asyncpg.Connection[Any], tables: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table in tables:
        out[table] = sorted(
            ([_plain(v) for v in row] for row in await table_rows(conn, table)), key=repr
        )
    return out


def _stream_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _stored_rows(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows in ``runner.ROW_COLUMNS`` order, as the runner reads them from the log."""
    return [
        (
            line["position"],
            UUID(line["originator_id"]),
            line["topic"],
            msgspec.json.encode(line["state"]),
            line["originator_version"],
            UUID(line["tenant_id"]) if line["tenant_id"] else None,
        )
        for line in lines
    ]


def _events(lines: list[dict[str, Any]]) -> list[PositionedEvent]:
    return [
        PositionedEvent(
            row[0], row[5], _mapper.to_domain_event(StoredEvent(row[1], row[4], row[2], row[3]))
        )
        for row in _stored_rows(lines)
    ]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


def _projection(name: str) -> InlineProjection:
    return next(p for p in all_projections() if p.name == name)


@pytest.mark.skipif(not UPDATE, reason="set LEDGER_GOLDEN_UPDATE=1 to regenerate the streams")
@pytest.mark.parametrize("case", sorted(SCENARIOS))
async def test_generate_golden_stream(services: Services, case: str) -> None:
    if case in VERSION_1_CASES:
        pytest.skip("stored at JournalPosted class_version 1: kept as written")
    await SCENARIOS[case](services)
    rows = await services.pool.fetch(
        "SELECT notification_id, originator_id, originator_version, topic, tenant_id, state"
        " FROM ledger_events ORDER BY notification_id"
    )
    text = "".join(
        json.dumps(
            {
                "position": r["notification_id"],
                "originator_id": str(r["originator_id"]),
                "originator_version": r["originator_version"],
                "topic": r["topic"],
                "tenant_id": str(r["tenant_id"]) if r["tenant_id"] else None,
                "state": json.loads(r["state"]),
            },
            sort_keys=True,
        )
        + "\n"
        for r in rows
    )
    for name, cases in CASES.items():
        if case in cases:
            folder = GOLDEN / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{case}.events.jsonl").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "case"), [(name, case) for name, cases in CASES.items() for case in cases]
)
async def test_golden_stream_folds_to_the_expected_rows(
    conn: asyncpg.Connection[Any], name: str, case: str
) -> None:
    projection = _projection(name)
    every = all_projections()
    before = every[: [p.name for p in every].index(name)]
    folder = GOLDEN / name
    lines = _stream_lines(folder / f"{case}.events.jsonl")
    expected_path = folder / f"{case}.expected.json"
    # Applied in two calls, as a runner's batches would cut the stream.
    events = _events(lines)
    middle = len(events) // 2
    async with conn.transaction():
        for chunk in (events[:middle], events[middle:]):
            for earlier in before:
                await earlier.apply(conn, chunk)
            await projection.apply(conn, chunk)
    rows = await _rows(conn, projection.tables)
    if UPDATE:
        expected_path.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n", "utf-8")
    assert rows == json.loads(expected_path.read_text(encoding="utf-8"))

    if isinstance(projection, StoredRowProjection):
        # The fast path over stored rows makes the very same rows, cut at another place.
        # The earlier projections' rows are folded again first (some tables are shared).
        tables = {t for p in [*before, projection] for t in p.tables}
        await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in sorted(tables)))
        stored = _stored_rows(lines)
        async with conn.transaction():
            for earlier in before:
                await earlier.apply(conn, events)
            await projection.apply_recorded(conn, stored[:3])
            await projection.apply_recorded(conn, stored[3:])
        assert await _rows(conn, projection.tables) == rows
