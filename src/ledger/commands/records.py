"""Importing records (docs/api.md §6), and the records use cases as one object.

A request of one record or of up to ten thousand is ONE group-commit command
(:class:`ImportRecords`): the handler locks the tenant's ``record_id`` counter once, reads the
known ``external_id``\\ s of the whole request in one statement, decides every record in
order, and the projection writes them with one ``unnest`` insert. Each record has its own
outcome; one record's conflict does not stop the others.

Rules, per record, in order:

1. ``external_id`` (unique per tenant and data stream, forever): a key seen before with the
   same request → replay (the original record, answered 200 by the API); with another
   request → 409 ``IDEMPOTENCY_CONFLICT`` (``details.record_id``). Two records of one
   request with the same key behave exactly like two requests in that order.
2. Otherwise the record gets the tenant's next integer ``id`` (1, 2, 3 …; no gap, no repeat:
   the counter row is locked for the batch, in tenant order) and one ``RecordImported``.

Shape rules (amount > 0, direction, date, the reserved ``ledger:`` prefix, lengths) are 400s
checked before a command exists (:func:`check_record_input`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

import msgspec

from ledger import limits
from ledger.documents.records import RecordOut, encode, render_imported, render_record
from ledger.domain.idempotency import replay_or_conflict, request_fingerprint
from ledger.domain.ledgers import Direction
from ledger.domain.records import LEDGER_STREAM_PREFIX, RECORD_ID_COUNTER, RECORD_TOPIC, Record
from ledger.errors import IdempotencyConflict, LedgerError, ValidationError
from ledger.store.database import DbPool
from ledger.store.group_commit import Batch, BatchKey, CommandHandler, Decision, GroupCommitter

RECORDS_PER_COMMAND_MAX: Final = limits.RECORDS_PER_COMMAND_MAX
STREAM_KEY_LENGTH_MAX: Final = limits.STREAM_KEY_LENGTH_MAX
EXTERNAL_ID_LENGTH_MAX: Final = limits.RECORD_EXTERNAL_ID_LENGTH_MAX
DESCRIPTION_LENGTH_MAX: Final = limits.RECORD_DESCRIPTION_LENGTH_MAX
DECIMAL_PLACES_MAX: Final = limits.RECORD_DECIMAL_PLACES_MAX

_LOCK_COUNTERS: Final = (
    "INSERT INTO tenant_counters AS c (tenant_id, counter, value)"
    " SELECT t, $2, 0 FROM unnest($1::uuid[]) AS t ORDER BY t"
    " ON CONFLICT (tenant_id, counter) DO UPDATE SET value = c.value"
    " RETURNING tenant_id, value"
)
# One statement per tenant, probing the unique index (tenant_id, external_id, ...) once per
# key: the keys are the outer side and the table a LATERAL subquery on the key; rows of other
# streams with the same external_id are dropped in code.
_KNOWN_KEYS: Final = (
    "SELECT r.* FROM unnest($2::text[]) AS k(external_id) CROSS JOIN LATERAL ("
    " SELECT data_stream_key, external_id, record_id, request_sha256 FROM records"
    " WHERE tenant_id = $1 AND external_id = k.external_id OFFSET 0) AS r"
)
_SELECT_RECORDS: Final = (
    "SELECT r.* FROM unnest($2::int8[]) AS k(id) CROSS JOIN LATERAL ("
    " SELECT record_id, data_stream_key, amount, direction, date, decimal_places, description,"
    " metadata, external_id, position FROM records WHERE tenant_id = $1 AND record_id = k.id"
    " LIMIT 1) AS r"
)
_metadata_encoder = msgspec.json.Encoder()

# Planner statistics of the reconciliation tables, refreshed after bulk writes: a table that
# grew by tens of thousands of rows since its last ANALYZE (autovacuum comes later) has index
# statistics that make every index look alike, and the key lookups above then pick an index
# that matches only part of the key (measured: 25 s instead of 50 ms for 10,000 keys). The
# caller says how many rows it knows a table has at least (the cumulative statistics views
# lag behind commits, so they cannot tell).
STATISTICS_ROWS_MIN: Final = limits.RECONCILIATION_STATISTICS_ROWS_MIN
RECONCILIATION_TABLES: Final = ("records", "matches", "match_items")
_ESTIMATES: Final = (
    "SELECT relname, reltuples FROM pg_class"
    " WHERE relnamespace = current_schema()::regnamespace AND relname = ANY($1::text[])"
)


async def refresh_statistics(pool: DbPool, rows_at_least: dict[str, int]) -> None:
    """``ANALYZE`` each table of ``rows_at_least`` whose planner estimate is under half the
    rows it is known to have (ANALYZE samples at most 30,000 rows and blocks no reader or
    writer)."""
    wanted = {t: n for t, n in rows_at_least.items() if n >= STATISTICS_ROWS_MIN}
    if not wanted:
        return
    for row in await pool.fetch(_ESTIMATES, sorted(wanted)):
        name = row["relname"]
        assert name in RECONCILIATION_TABLES
        if row["reltuples"] < wanted[name] / 2:
            await pool.execute(f'ANALYZE "{name}"')


@dataclass(frozen=True, kw_only=True)
class RecordInput:
    """One record to import (already shape-checked: :func:`check_record_input`)."""

    data_stream_key: str
    amount: int
    direction: Direction
    date: dt.date
    decimal_places: int = 2
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    # A statement line's external_id is built from its identity (ledger.importers.common):
    # a later delivery of the same line (the final statement after the interim one) may
    # carry other text and is the same record, so the fingerprint leaves the text out.
    identity_only: bool = False

    def fingerprint(self) -> bytes:
        """sha256 of the record's fields in canonical form: what an idempotent retry must
        repeat (read-only fields of the record document, such as ``status``, are not part of it;
        with ``identity_only``, neither are ``description`` and ``metadata``)."""
        head = (
            self.data_stream_key,
            self.amount,
            self.direction,
            self.date.isoformat(),
            self.decimal_places,
        )
        if self.identity_only:
            return request_fingerprint((*head, self.external_id))
        return request_fingerprint((*head, self.description, self.metadata, self.external_id))


def check_stream_key(key: object, field_name: str = "data_stream_key") -> str:
    """``key`` if it is a usable record stream key.

    Raises:
        ValidationError: empty, too long, not printable, padded with white space, or in the
            ``ledger:`` namespace (reserved for ledger entries).
    """
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= STREAM_KEY_LENGTH_MAX
        or not key.isprintable()
        or key != key.strip()
    ):
        raise ValidationError(
            f"a data stream key is 1 to {STREAM_KEY_LENGTH_MAX} printable characters without"
            " leading or trailing white space",
            {"field": field_name},
        )
    if key.startswith(LEDGER_STREAM_PREFIX):
        raise ValidationError(
            "data stream keys starting with 'ledger:' are the ledgers' entries; records"
            " cannot be added to them",
            {"field": field_name, "value": key},
        )
    return key


def check_record_input(record: RecordInput, path: str = "$") -> RecordInput:
    """``record`` if its fields are in range (the API's schema checks the same).

    Raises:
        ValidationError: the first field out of range, named by its JSON path.
    """
    check_stream_key(record.data_stream_key, f"{path}.data_stream_key")
    amount = record.amount
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or not 0 < amount <= (limits.AMOUNT_MINOR_MAX)
    ):
        raise ValidationError(
            "amount is an integer of minor units, 1 to 2^63-1", {"field": f"{path}.amount"}
        )
    if record.direction not in ("credit", "debit"):
        raise ValidationError("direction is credit or debit", {"field": f"{path}.direction"})
    if not 0 <= record.decimal_places <= DECIMAL_PLACES_MAX:
        raise ValidationError(
            f"decimal_places is 0 to {DECIMAL_PLACES_MAX}", {"field": f"{path}.decimal_places"}
        )
    if record.description is not None and len(record.description) > DESCRIPTION_LENGTH_MAX:
        raise ValidationError(
            f"description is at most {DESCRIPTION_LENGTH_MAX} characters",
            {"field": f"{path}.description"},
        )
    if record.external_id is not None and not 1 <= len(record.external_id) <= (
        EXTERNAL_ID_LENGTH_MAX
    ):
        raise ValidationError(
            f"external_id is 1 to {EXTERNAL_ID_LENGTH_MAX} characters",
            {"field": f"{path}.external_id"},
        )
    if len(_metadata_encoder.encode(record.metadata)) > limits.LEDGER_METADATA_BYTES_MAX:
        raise ValidationError(
            f"metadata is at most {limits.LEDGER_METADATA_BYTES_MAX} bytes of JSON",
            {"field": f"{path}.metadata"},
        )
    return record


@dataclass(frozen=True, kw_only=True)
class ImportRecords:
    tenant_id: UUID
    records: tuple[RecordInput, ...]
    fingerprints: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class RecordReplay:
    """A known ``external_id`` with the same request: the original record's id."""

    record_id: int


RecordOutcome = Record.RecordImported | RecordReplay | LedgerError


@dataclass(frozen=True, slots=True)
class ImportResult:
    outcomes: list[RecordOutcome]


@dataclass
class _State:
    counters: dict[UUID, int] = field(default_factory=dict)
    keys: dict[tuple[UUID, str, str], tuple[int, bytes]] = field(default_factory=dict)


_STATE: Final = BatchKey("ledger.commands.records.import", _State)


def _conflict(record: RecordInput, index: int) -> Callable[[int], IdempotencyConflict]:
    """The conflict of ``record`` (item ``index``) with the record its key created."""

    def conflict(record_id: int) -> IdempotencyConflict:
        return IdempotencyConflict(
            "this external_id was used in the data stream with a different record",
            {
                "record_id": record_id,
                "external_id": record.external_id,
                "data_stream_key": record.data_stream_key,
                "index": index,
            },
        )

    return conflict


class ImportRecordsHandler(CommandHandler[ImportRecords, ImportResult]):
    """Imports records; per-record outcomes (see the module docstring). Never raises: an
    ``IdempotencyConflict`` is the outcome of its record only."""

    async def load(self, batch: Batch, commands: Sequence[ImportRecords]) -> None:
        state = batch.state(_STATE)
        tenants = sorted({c.tenant_id for c in commands})
        # The counter lock comes first: once held, no other process imports for the tenant
        # until this batch commits, so the keys read next are final.
        for row in await batch.conn.fetch(_LOCK_COUNTERS, tenants, RECORD_ID_COUNTER):
            state.counters.setdefault(row["tenant_id"], row["value"])
        keyed: dict[UUID, set[tuple[str, str]]] = {}
        for c in commands:
            for r in c.records:
                if r.external_id is not None:
                    keyed.setdefault(c.tenant_id, set()).add((r.data_stream_key, r.external_id))
        for tenant_id, keys in sorted(keyed.items()):
            external_ids = sorted({external_id for _, external_id in keys})
            for row in await batch.conn.fetch(_KNOWN_KEYS, tenant_id, external_ids):
                if (row["data_stream_key"], row["external_id"]) in keys:
                    state.keys.setdefault(
                        (tenant_id, row["data_stream_key"], row["external_id"]),
                        (row["record_id"], bytes(row["request_sha256"])),
                    )

    def decide(self, batch: Batch, command: ImportRecords) -> Decision[ImportResult]:
        assert 0 < len(command.records) <= RECORDS_PER_COMMAND_MAX
        state = batch.state(_STATE)
        tenant = command.tenant_id
        timestamp = Record.RecordImported.create_timestamp()
        number = state.counters.get(tenant, 0)
        outcomes: list[RecordOutcome] = []
        events: list[Record.RecordImported] = []
        for index, (record, fingerprint) in enumerate(
            zip(command.records, command.fingerprints, strict=True)
        ):
            if record.external_id is not None:
                key = (tenant, record.data_stream_key, record.external_id)
                try:
                    replayed = replay_or_conflict(
                        state.keys.get(key), fingerprint, _conflict(record, index)
                    )
                except IdempotencyConflict as conflict:
                    outcomes.append(conflict)
                    continue
                if replayed is not None:
                    outcomes.append(RecordReplay(replayed))
                    continue
            number += 1
            event = Record.RecordImported(
                originator_id=uuid.uuid4(),
                originator_version=1,
                timestamp=timestamp,
                originator_topic=RECORD_TOPIC,
                tenant_id=tenant,
                record_id=number,
                data_stream_key=record.data_stream_key,
                external_id=record.external_id,
                amount=record.amount,
                direction=record.direction,
                date=record.date,
                decimal_places=record.decimal_places,
                description=record.description,
                metadata=record.metadata,
                request_sha256=fingerprint.hex(),
            )
            events.append(event)
            outcomes.append(event)
            if record.external_id is not None:
                state.keys[(tenant, record.data_stream_key, record.external_id)] = (
                    number,
                    fingerprint,
                )
        state.counters[tenant] = number
        return Decision(events=events, result=ImportResult(outcomes), tenant_id=tenant)


@dataclass(frozen=True, slots=True)
class ImportedRecord:
    """One record's answer: its document bytes, and 201 (created) or 200 (replayed)."""

    document: bytes
    position: int
    replayed: bool


class RecordCommands:
    """The records use cases, bound to one group committer and pool (matching and runs:
    :class:`ledger.commands.reconciliation_service.ReconciliationCommands`)."""

    def __init__(self, committer: GroupCommitter, pool: DbPool) -> None:
        self._committer = committer
        self._pool = pool
        self._import = ImportRecordsHandler()

    @property
    def committer(self) -> GroupCommitter:
        return self._committer

    @property
    def pool(self) -> Any:
        return self._pool

    async def import_records(
        self, tenant_id: UUID, records: Sequence[RecordInput]
    ) -> list[ImportedRecord | LedgerError]:
        """Import ``records`` (checked with :func:`check_record_input`); outcomes in order.

        Up to :data:`RECORDS_PER_COMMAND_MAX` records are one command (all decided in one
        transaction); a longer sequence is split into such commands, written in order.
        A record's error is ``IdempotencyConflict`` (409).
        """
        out: list[ImportedRecord | LedgerError] = []
        for start in range(0, len(records), RECORDS_PER_COMMAND_MAX):
            chunk = tuple(records[start : start + RECORDS_PER_COMMAND_MAX])
            command = ImportRecords(
                tenant_id=tenant_id,
                records=chunk,
                fingerprints=tuple(r.fingerprint() for r in chunk),
            )
            committed = await self._committer.submit(self._import, command)
            created = [
                o.record_id
                for o in committed.result.outcomes
                if isinstance(o, Record.RecordImported)
            ]
            if len(created) >= STATISTICS_ROWS_MIN:
                # Record ids count a tenant's records: at least this many rows exist.
                await refresh_statistics(self._pool, {"records": max(created)})
            positions = iter(committed.positions)
            replayed = [
                o.record_id for o in committed.result.outcomes if isinstance(o, RecordReplay)
            ]
            originals = await self._originals(tenant_id, replayed) if replayed else {}
            for outcome in committed.result.outcomes:
                if isinstance(outcome, Record.RecordImported):
                    position = next(positions)
                    out.append(
                        ImportedRecord(
                            document=encode(render_imported(outcome, position)),
                            position=position,
                            replayed=False,
                        )
                    )
                elif isinstance(outcome, RecordReplay):
                    document = originals[outcome.record_id]
                    out.append(
                        ImportedRecord(
                            document=encode(document), position=document.position, replayed=True
                        )
                    )
                else:
                    out.append(outcome)
        return out

    async def import_record(self, tenant_id: UUID, record: RecordInput) -> ImportedRecord:
        """Import one record.

        Raises:
            IdempotencyConflict: its ``external_id`` is known with another record (409).
        """
        (outcome,) = await self.import_records(tenant_id, [record])
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome

    async def _originals(self, tenant_id: UUID, ids: list[int]) -> dict[int, RecordOut]:
        """Each record's first answer: as created (unreconciled), at its own position."""
        rows = await self._pool.fetch(_SELECT_RECORDS, tenant_id, ids)
        return {
            r["record_id"]: render_record(
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
            )
            for r in rows
        }
