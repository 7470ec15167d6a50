"""Reads of records, matches, runs and reconciliation reports (docs/api.md §6).

Reconciled status is derived, never stored: an item (record or ledger entry) is reconciled
at position K when it has a ``match_items`` row with ``matched_position <= K`` and no
``unmatched_position <= K``. Every read takes ``known_at`` (K; None: everything committed),
so "what was reconciled as the books stood at position K" is the same query as "now".

A record's ``matched_records`` are the other items of the match it is in (at K).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import msgspec

from ledger import limits
from ledger.documents.records import (
    MatchedRecordOut,
    MatchItemOut,
    MatchOut,
    RecordOut,
    encode,
    render_record,
)
from ledger.domain.balances import check_total
from ledger.domain.ledgers import Direction
from ledger.domain.records import (
    LEDGER_STREAM_PREFIX,
    MatchRule,
    MatchStatus,
    RecordStatus,
    RunRules,
)
from ledger.queries.currencies import fetch_precisions
from ledger.queries.filters import SqlFilter
from ledger.queries.pagination import decode_cursor, encode_cursor
from ledger.store.database import DbSource

_ACTIVE_AT: Final = (
    "i.matched_position <= {k} AND (i.unmatched_position IS NULL OR i.unmatched_position > {k})"
)
_RECORD_COLUMNS: Final = (
    "r.record_id, r.data_stream_key, r.amount, r.direction, r.date, r.decimal_places,"
    " r.description, r.metadata, r.external_id, r.position"
)
_rule_decoder = msgspec.json.Decoder(MatchRule)
_rules_decoder = msgspec.json.Decoder(RunRules)


def _known(known_at: int | None) -> int:
    return limits.POSITION_MAX if known_at is None else known_at


async def _matched_records(
    source: DbSource, rows: Sequence[Any], k: int
) -> dict[int, tuple[UUID, list[MatchedRecordOut]]]:
    """For each record row that is in a match at K: (match id, the match's other items)."""
    active = [r for r in rows if r["match_id"] is not None]
    if not active:
        return {}
    items = await source.fetch(
        "SELECT i.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
        " SELECT match_id, item_index, record_id, entry_id, amount, decimal_places, direction,"
        " data_stream_key FROM match_items WHERE match_id = k.id OFFSET 0) AS i"
        " ORDER BY i.match_id, i.item_index",
        list({r["match_id"] for r in active}),
    )
    by_match: dict[UUID, list[Any]] = {}
    for item in items:
        by_match.setdefault(item["match_id"], []).append(item)
    out: dict[int, tuple[UUID, list[MatchedRecordOut]]] = {}
    for row in active:
        others = [
            MatchedRecordOut(
                id=i["record_id"] if i["record_id"] is not None else i["entry_id"],
                amount=i["amount"],
                decimal_places=i["decimal_places"],
                direction=i["direction"],
                data_stream_key=i["data_stream_key"],
            )
            for i in by_match.get(row["match_id"], [])
            if i["record_id"] != row["record_id"]
        ]
        out[row["record_id"]] = (row["match_id"], others)
    return out


def _documents(
    rows: Sequence[Any], matched: dict[int, tuple[UUID, list[MatchedRecordOut]]]
) -> list[RecordOut]:
    documents = []
    for r in rows:
        hit = matched.get(r["record_id"])
        documents.append(
            render_record(
                record_id=r["record_id"],
                data_stream_key=r["data_stream_key"],
                amount=r["amount"],
                direction=r["direction"],
                date=r["date"],
                decimal_places=r["decimal_places"],
                description=r["description"],
                metadata=msgspec.json.decode(r["metadata"]),
                external_id=r["external_id"],
                position=r["position"],
                matched_records=hit[1] if hit else None,
                reconciled=hit is not None,
            )
        )
    return documents


_MATCH_OF: Final = (
    "LEFT JOIN LATERAL (SELECT i.match_id FROM match_items i"
    " WHERE i.tenant_id = r.tenant_id AND i.record_id = r.record_id AND "
    + _ACTIVE_AT.format(k="$2")
    + " LIMIT 1) a ON true"
)


async def record_document(
    source: DbSource, tenant_id: UUID, record_id: int, known_at: int | None = None
) -> bytes | None:
    """The record as JSON (status and matched records at ``known_at``), or None when the
    tenant has no such record (or had none yet at ``known_at``)."""
    k = _known(known_at)
    rows = await source.fetch(
        f"SELECT {_RECORD_COLUMNS}, a.match_id FROM records r {_MATCH_OF}"
        " WHERE r.tenant_id = $1 AND r.record_id = $3 AND r.position <= $2",
        tenant_id,
        k,
        record_id,
    )
    if not rows:
        return None
    return encode(_documents(rows, await _matched_records(source, rows, k))[0])


@dataclass(frozen=True, kw_only=True)
class RecordFilter:
    data_stream_key: str | None = None
    status: RecordStatus | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    external_id: str | None = None
    known_at: int | None = None


async def list_records(
    source: DbSource, tenant_id: UUID, where: RecordFilter, limit: int, cursor: str | None
) -> tuple[list[bytes], str | None]:
    """A page of records in id order (the order they were imported), and the next cursor."""
    after = decode_cursor(cursor)
    after_id = int(after[0]) if after else 0
    k = _known(where.known_at)
    query = SqlFilter(tenant_id, k, after_id)  # $2: _MATCH_OF's position
    query.where("r.tenant_id = $1 AND r.position <= $2 AND r.record_id > $3")
    query.equals("r.data_stream_key", where.data_stream_key)
    query.at_least("r.date", where.date_from)
    query.at_most("r.date", where.date_to)
    query.equals("r.external_id", where.external_id)
    if where.status == "reconciled":
        query.where("a.match_id IS NOT NULL")
    elif where.status == "unreconciled":
        query.where("a.match_id IS NULL")
    sql = (
        f"SELECT {_RECORD_COLUMNS}, a.match_id FROM records r {_MATCH_OF} WHERE {query.sql}"
        f" ORDER BY r.record_id LIMIT {query.bind(limit + 1)}"
    )
    rows = await source.fetch(sql, *query.params)
    page = rows[:limit]
    documents = _documents(page, await _matched_records(source, page, k))
    next_cursor = encode_cursor([page[-1]["record_id"]]) if len(rows) > limit else None
    return [encode(d) for d in documents], next_cursor


# --- matches --------------------------------------------------------------------------------

_MATCH_COLUMNS: Final = (
    "m.match_id, m.difference, m.tolerance, m.decimal_places, m.rule, m.note, m.run_id,"
    " m.status, m.created_at, m.unmatched_at, m.position"
)


async def _match_documents(source: DbSource, rows: Sequence[Any]) -> list[MatchOut]:
    if not rows:
        return []
    items = await source.fetch(
        "SELECT i.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
        " SELECT match_id, item_index, record_id, entry_id, data_stream_key, amount, direction,"
        " decimal_places FROM match_items WHERE match_id = k.id OFFSET 0) AS i"
        " ORDER BY i.match_id, i.item_index",
        [r["match_id"] for r in rows],
    )
    by_match: dict[UUID, list[MatchItemOut]] = {}
    for i in items:
        by_match.setdefault(i["match_id"], []).append(
            MatchItemOut(
                record_id=i["record_id"],
                entry_id=i["entry_id"],
                data_stream_key=i["data_stream_key"],
                amount=i["amount"],
                direction=i["direction"],
                decimal_places=i["decimal_places"],
            )
        )
    return [
        MatchOut(
            id=r["match_id"],
            items=by_match.get(r["match_id"], []),
            difference=r["difference"],
            tolerance=r["tolerance"],
            decimal_places=r["decimal_places"],
            rule=_rule_decoder.decode(r["rule"]) if r["rule"] is not None else None,
            note=r["note"],
            run_id=r["run_id"],
            status=r["status"],
            created_at=r["created_at"],
            unmatched_at=r["unmatched_at"],
            position=r["position"],
        )
        for r in rows
    ]


async def match_document(source: DbSource, tenant_id: UUID, match_id: UUID) -> bytes | None:
    rows = await source.fetch(
        f"SELECT {_MATCH_COLUMNS} FROM matches m WHERE m.tenant_id = $1 AND m.match_id = $2",
        tenant_id,
        match_id,
    )
    documents = await _match_documents(source, rows)
    return encode(documents[0]) if documents else None


@dataclass(frozen=True, kw_only=True)
class MatchFilter:
    status: MatchStatus | None = None
    run_id: UUID | None = None
    record_id: int | None = None
    entry_id: UUID | None = None


async def list_matches(
    source: DbSource, tenant_id: UUID, where: MatchFilter, limit: int, cursor: str | None
) -> tuple[list[bytes], str | None]:
    """A page of matches in the order they were made, and the next cursor."""
    after = decode_cursor(cursor)
    after_position, after_id = (int(after[0]), str(after[1])) if after else (0, "")
    query = SqlFilter(tenant_id, after_position, after_id)
    query.where("m.tenant_id = $1 AND (m.matched_position, m.match_id::text) > ($2, $3)")
    query.equals("m.status", where.status)
    query.equals("m.run_id", where.run_id)
    query.where_given(
        "EXISTS (SELECT 1 FROM match_items i WHERE i.match_id = m.match_id"
        " AND i.tenant_id = m.tenant_id AND i.record_id = {})",
        where.record_id,
    )
    query.where_given(
        "EXISTS (SELECT 1 FROM match_items i WHERE i.match_id = m.match_id AND i.entry_id = {})",
        where.entry_id,
    )
    sql = (
        f"SELECT {_MATCH_COLUMNS}, m.matched_position FROM matches m WHERE {query.sql}"
        f" ORDER BY m.matched_position, m.match_id::text LIMIT {query.bind(limit + 1)}"
    )
    rows = await source.fetch(sql, *query.params)
    page = rows[:limit]
    documents = await _match_documents(source, page)
    next_cursor = (
        encode_cursor([page[-1]["matched_position"], str(page[-1]["match_id"])])
        if len(rows) > limit
        else None
    )
    return [encode(d) for d in documents], next_cursor


# --- runs -----------------------------------------------------------------------------------


class RunDocument(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    left: str
    right: str
    rules: RunRules
    dry_run: bool
    matched: int
    unmatched_left: int
    unmatched_right: int
    skipped: int
    created_at: dt.datetime
    position: int | None


async def run_document(source: DbSource, tenant_id: UUID, run_id: UUID) -> bytes | None:
    row = await source.fetchrow(
        "SELECT run_id, left_stream, right_stream, rules, matched, unmatched_left,"
        " unmatched_right, skipped, created_at, position FROM reconciliation_runs"
        " WHERE tenant_id = $1 AND run_id = $2",
        tenant_id,
        run_id,
    )
    if row is None:
        return None
    return encode(
        RunDocument(
            id=row["run_id"],
            left=row["left_stream"],
            right=row["right_stream"],
            rules=_rules_decoder.decode(row["rules"]),
            dry_run=False,
            matched=row["matched"],
            unmatched_left=row["unmatched_left"],
            unmatched_right=row["unmatched_right"],
            skipped=row["skipped"],
            created_at=row["created_at"],
            position=row["position"],
        )
    )


# --- stream items (what a run matches) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamItem:
    """An unreconciled item of a stream, as a run reads it."""

    record_id: int | None
    entry_id: UUID | None
    seq: int
    amount: int
    direction: Direction  # from a CHECK-constrained column
    date: dt.date
    decimal_places: int
    external_id: str | None
    description: str | None


async def ledger_exists(source: DbSource, tenant_id: UUID, code: str) -> bool:
    return bool(
        await source.fetchval(
            "SELECT EXISTS (SELECT 1 FROM ledgers WHERE tenant_id = $1 AND code = $2)",
            tenant_id,
            code,
        )
    )


async def record_stream_exists(source: DbSource, tenant_id: UUID, data_stream_key: str) -> bool:
    """Whether the record stream ``data_stream_key`` has a record (matched or not): a record
    stream exists from its first record on (there is no other way to create one)."""
    return bool(
        await source.fetchval(
            "SELECT EXISTS (SELECT 1 FROM records WHERE tenant_id = $1 AND data_stream_key = $2)",
            tenant_id,
            data_stream_key,
        )
    )


async def unreconciled_items(source: DbSource, tenant_id: UUID, stream: str) -> list[StreamItem]:
    """Every item of ``stream`` in no active match: records of a record stream, or the
    entries (of journals not voided) of the ledger of a ``ledger:<code>`` stream.

    An entry's date is its journal's effective date, its external id the journal's
    ``external_id`` (else its ``reference``), its description the entry's (else the
    journal's), and its order key (journal position, entry index).
    """
    if not stream.startswith(LEDGER_STREAM_PREFIX):
        rows = await source.fetch(
            "SELECT r.record_id, r.amount, r.direction, r.date, r.decimal_places,"
            " r.external_id, r.description FROM records r"
            " WHERE r.tenant_id = $1 AND r.data_stream_key = $2 AND NOT EXISTS ("
            " SELECT 1 FROM match_items i WHERE i.tenant_id = r.tenant_id"
            " AND i.record_id = r.record_id AND i.unmatched_position IS NULL)",
            tenant_id,
            stream,
        )
        return [
            StreamItem(
                record_id=r["record_id"],
                entry_id=None,
                seq=r["record_id"],
                amount=r["amount"],
                direction=r["direction"],
                date=r["date"],
                decimal_places=r["decimal_places"],
                external_id=r["external_id"],
                description=r["description"],
            )
            for r in rows
        ]
    code = stream.removeprefix(LEDGER_STREAM_PREFIX)
    rows = await source.fetch(
        "SELECT e.entry_id, e.entry_index, e.amount, e.direction, e.currency,"
        " j.effective_date, j.position, coalesce(j.external_id, j.reference) AS external_id,"
        " coalesce(e.description, j.description) AS description"
        " FROM ledgers l JOIN journal_entries e ON e.ledger_id = l.ledger_id"
        " JOIN journals j ON j.journal_id = e.journal_id"
        " WHERE l.tenant_id = $1 AND l.code = $2 AND j.status <> 'voided' AND NOT EXISTS ("
        " SELECT 1 FROM match_items i WHERE i.entry_id = e.entry_id"
        " AND i.unmatched_position IS NULL)",
        tenant_id,
        code,
    )
    precisions = await fetch_precisions(source, tenant_id, {r["currency"] for r in rows})
    return [
        StreamItem(
            record_id=None,
            entry_id=r["entry_id"],
            seq=r["position"] * 1000 + r["entry_index"],
            amount=r["amount"],
            direction=r["direction"],
            date=r["effective_date"],
            decimal_places=precisions.get(r["currency"], 0),
            external_id=r["external_id"],
            description=r["description"],
        )
        for r in rows
    ]


# --- reports --------------------------------------------------------------------------------


class ReconciliationTotalsOut(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """How many items, and how much (net amount, debits, credits), in one state."""

    count: int
    amount: int
    debits: int
    credits: int


_NO_ITEMS: Final = ReconciliationTotalsOut(count=0, amount=0, debits=0, credits=0)


class StreamSummaryOut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data_stream_key: str
    reconciled: ReconciliationTotalsOut
    unreconciled: ReconciliationTotalsOut


class ReconciliationSummaryOut(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """The summary's answer (``GET /v1/reconciliation/summary``); the class names are the
    OpenAPI component names."""

    data_stream_key: str | None
    as_of: dt.date | None
    known_at: int | None
    reconciled: ReconciliationTotalsOut
    unreconciled: ReconciliationTotalsOut
    streams: list[StreamSummaryOut]


def _ledger_summary_query(
    tenant_id: UUID, k: int, code: str, as_of: dt.date | None
) -> tuple[str, tuple[object, ...]]:
    """SQL and arguments: the ledger's entries (journals not voided) per reconciled flag,
    each row keyed by the ledger's stream key ``ledger:<code>`` (as asked, never the bare
    code)."""
    query = SqlFilter(tenant_id, k, code, LEDGER_STREAM_PREFIX + code)
    # $2: the position known at; $3: the ledger code; $4: the stream key
    query.where("l.tenant_id = $1 AND l.code = $3 AND j.status <> 'voided' AND j.position <= $2")
    query.at_most("j.effective_date", as_of)
    sql = (
        "SELECT $4::text AS stream, (a.hit IS NOT NULL) AS reconciled, count(*) AS n,"
        " sum(e.amount) AS amount,"
        " coalesce(sum(e.amount) FILTER (WHERE e.direction = 'debit'), 0) AS debits,"
        " coalesce(sum(e.amount) FILTER (WHERE e.direction = 'credit'), 0) AS credits"
        " FROM ledgers l JOIN journal_entries e ON e.ledger_id = l.ledger_id"
        " JOIN journals j ON j.journal_id = e.journal_id"
        " LEFT JOIN LATERAL (SELECT 1 AS hit FROM match_items i WHERE i.entry_id = e.entry_id"
        " AND " + _ACTIVE_AT.format(k="$2") + " LIMIT 1) a ON true"
        f" WHERE {query.sql} GROUP BY 1, 2"
    )
    return sql, query.params


def _records_summary_query(
    tenant_id: UUID, k: int, data_stream_key: str | None, as_of: dt.date | None
) -> tuple[str, tuple[object, ...]]:
    """SQL and arguments: the records of one stream (or all) per stream and reconciled flag."""
    query = SqlFilter(tenant_id, k)  # $2: the position known at
    query.where("r.tenant_id = $1 AND r.position <= $2")
    query.equals("r.data_stream_key", data_stream_key)
    query.at_most("r.date", as_of)
    sql = (
        "SELECT r.data_stream_key AS stream, (a.hit IS NOT NULL) AS reconciled,"
        " count(*) AS n, sum(r.amount) AS amount,"
        " coalesce(sum(r.amount) FILTER (WHERE r.direction = 'debit'), 0) AS debits,"
        " coalesce(sum(r.amount) FILTER (WHERE r.direction = 'credit'), 0) AS credits"
        " FROM records r LEFT JOIN LATERAL (SELECT 1 AS hit FROM match_items i"
        " WHERE i.tenant_id = r.tenant_id AND i.record_id = r.record_id AND "
        + _ACTIVE_AT.format(k="$2")
        + f" LIMIT 1) a ON true WHERE {query.sql} GROUP BY 1, 2"
    )
    return sql, query.params


def _stream_summaries(rows: Sequence[Any], data_stream_key: str | None) -> list[StreamSummaryOut]:
    """One summary per stream in ``rows`` (and the asked one, even without items), by key."""
    per_stream: dict[str, dict[bool, ReconciliationTotalsOut]] = {}
    for r in rows:
        per_stream.setdefault(r["stream"], {})[r["reconciled"]] = ReconciliationTotalsOut(
            count=r["n"],
            amount=int(r["amount"]),
            debits=int(r["debits"]),
            credits=int(r["credits"]),
        )
    if data_stream_key is not None:
        per_stream.setdefault(data_stream_key, {})
    return [
        StreamSummaryOut(
            data_stream_key=key,
            reconciled=totals.get(True, _NO_ITEMS),
            unreconciled=totals.get(False, _NO_ITEMS),
        )
        for key, totals in sorted(per_stream.items())
    ]


def _sum_totals(parts: Sequence[ReconciliationTotalsOut]) -> ReconciliationTotalsOut:
    return ReconciliationTotalsOut(
        count=sum(p.count for p in parts),
        amount=sum(p.amount for p in parts),
        debits=sum(p.debits for p in parts),
        credits=sum(p.credits for p in parts),
    )


async def reconciliation_summary(
    source: DbSource,
    tenant_id: UUID,
    data_stream_key: str | None,
    as_of: dt.date | None,
    known_at: int | None,
) -> bytes:
    """Counts and amounts of reconciled and unreconciled items per stream.

    Without ``data_stream_key``: every record stream of the tenant. With ``ledger:<code>``:
    that ledger's entries (of journals not voided). ``as_of`` counts items dated on or before
    it; ``known_at`` counts items and matches as they stood at that position.

    Raises:
        AmountOverflow: a sum is beyond the int64 range (a stream's records are each an
            int64, their sums need not be).
    """
    k = _known(known_at)
    if data_stream_key is not None and data_stream_key.startswith(LEDGER_STREAM_PREFIX):
        code = data_stream_key.removeprefix(LEDGER_STREAM_PREFIX)
        sql, args = _ledger_summary_query(tenant_id, k, code, as_of)
    else:
        sql, args = _records_summary_query(tenant_id, k, data_stream_key, as_of)
    streams = _stream_summaries(await source.fetch(sql, *args), data_stream_key)
    summary = ReconciliationSummaryOut(
        data_stream_key=data_stream_key,
        as_of=as_of,
        known_at=known_at,
        reconciled=_sum_totals([s.reconciled for s in streams]),
        unreconciled=_sum_totals([s.unreconciled for s in streams]),
        streams=streams,
    )
    for key, totals in [
        (None, summary.reconciled),
        (None, summary.unreconciled),
        *((s.data_stream_key, t) for s in streams for t in (s.reconciled, s.unreconciled)),
    ]:
        for name in ("amount", "debits", "credits"):
            check_total(
                getattr(totals, name),
                f"the summary's {name}",
                {"data_stream_key": key, "field": name},
            )
    return encode(summary)


# --- ledger entries as reconcilable items (journal documents) -------------------------------


async def entry_reconciliations(
    source: DbSource, journal_ids: Sequence[UUID]
) -> dict[UUID, dt.datetime]:
    """Entry id -> when its active match was made, for the entries of ``journal_ids`` that
    are reconciled now."""
    if not journal_ids:
        return {}
    rows = await source.fetch(
        "SELECT x.* FROM unnest($1::uuid[]) AS k(id) CROSS JOIN LATERAL ("
        " SELECT e.entry_id, m.created_at FROM journal_entries e"
        " CROSS JOIN LATERAL (SELECT match_id FROM match_items"
        " WHERE entry_id = e.entry_id AND unmatched_position IS NULL LIMIT 1) AS i"
        " JOIN matches m ON m.match_id = i.match_id WHERE e.journal_id = k.id OFFSET 0) AS x",
        list(journal_ids),
    )
    return {r["entry_id"]: r["created_at"] for r in rows}


async def journal_match_id(source: DbSource, journal_id: UUID) -> UUID | None:
    """The id of the earliest active match one of ``journal_id``'s entries is in, if any."""
    value = await source.fetchval(
        "SELECT i.match_id FROM journal_entries e JOIN match_items i ON i.entry_id = e.entry_id"
        " JOIN matches m ON m.match_id = i.match_id"
        " WHERE e.journal_id = $1 AND i.unmatched_position IS NULL"
        " ORDER BY m.created_at, i.match_id LIMIT 1",
        journal_id,
    )
    return value if isinstance(value, UUID) else None
