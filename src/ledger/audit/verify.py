"""``ledger audit verify``: prove the log is untouched and every read table is its fold.

Four checks over one consistent snapshot of the database (a REPEATABLE READ, read-only
transaction; its last position is P, each asynchronous projection's tracking position T is
read in the same snapshot):

1. **Hash chain.** Every row of ``ledger_events`` up to P, page by page, against the
   Python recomputation (:mod:`ledger.audit.chain`): the first row whose stored hash is not
   the hash of the previous stored hash and its own columns is the row that was changed.
   The last row and its hash must be the chain head's (``ledger_chain_head``, written by
   every append in its transaction), so removing the newest events is found too.
2. **Stock replay.** The stock ``eventsourcing`` library (its PostgreSQL recorder and
   ``Application``, configured like any reader of the ``Ledger`` application with
   ``MAPPER_TOPIC=ledger.store.mapper:MsgspecMapper``) reads every notification up to P,
   decodes it and applies it to its aggregate (``mutate`` checks ids and versions); the
   aggregates of recent events are cached (at most :data:`AGGREGATE_CACHE_MAX`), others
   re-read through the stock repository. It runs in a worker process of its own (a
   ``spawn`` process pool of one: callers of :func:`verify` need the usual
   ``if __name__ == "__main__"`` guard) and answers, per notification, its position,
   originator, version, topic and a digest of its state, which must equal the row our store
   read (asyncpg, in the snapshot).
3. **Projections.** The rows are folded by every projection's own code into scratch tables
   (``CREATE UNLOGGED TABLE … LIKE`` in a schema of the audit's own, inside a transaction
   that is rolled back: the audit writes nothing that lasts): inline projections up to P,
   each asynchronous one up to its T, page by page through the rebuild's bulk path
   (:func:`ledger.projections.runner.apply_rows` with ``bulk=True``): projections that load
   in bulk (:class:`~ledger.projections.runner.BulkLoadProjection`: the books) write their
   base rows per page and derive their totals once at the end in one set-based pass, so the
   comparison pairs two different derivations (in bulk here, batch by batch live); the
   others use their fast path over stored rows, or the events of their topics decoded by
   the service's mapper. Then every table is compared with the live one in the snapshot,
   surrogate keys aside. A row that cannot be folded (a tampered event that no longer
   decodes) is reported at its position and left out (its page is folded again row by row,
   each in a savepoint); the audit never stops on what the log holds.
4. **Books invariants** (:func:`ledger.audit.books.broken_invariants`) on the live rows of
   the snapshot: double entry, the cascade, checkpoints and changes against the balances,
   and the books against the trial balance.

Design note: constant memory, and where the time goes
-----------------------------------------------------
Memory does not grow with the log or the tables:

- The log is read in pages of :data:`PAGE_EVENTS` positions, the next page fetched while
  the current one is folded: at most two pages of rows are held. The stock worker runs up
  to :data:`STOCK_PAGES_AHEAD` pages ahead, but its answers are a few dozen bytes per
  event. Nothing is kept across pages but the previous chain hash, counters, at most
  :data:`FINDINGS_PER_CHECK_MAX` findings per check, and the worker's bounded aggregate
  cache (aggregates are counted, not collected: every aggregate has exactly one version-1
  event).
- Tables are compared in SQL, never in Python: the audit's second connection imports the
  snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``), so it sees the live rows
  exactly as the first one does, beside its own scratch tables. Per table one query groups
  the rows of both sides by every compared column, counting +1 for a live row and -1 for a
  replayed one; a group whose sum is not zero is a row present more often on one side
  (multiset difference, i.e. ``EXCEPT ALL`` both ways in one pass). Only the counts and the
  first differing row of each side (in column order) come back. The grouping runs in the
  server (``work_mem``, spilling to disk when large), not in this process.

Measured on the development machine (2 cores, PostgreSQL on the same cores): peak RSS about
80 MB here plus about 130 MB in the stock worker, the same at 100k and 1M journals (the
previous design, tables compared in Python, took 818 MB at 100k); about 8,000 events/s
(about 6,500-7,000 before the books' bulk load used ``COPY`` and migration 0008's derive).
The issue's target, 50,000 events/s, is out of reach on two cores with this design: per
event the stock library alone spends about 50-60 us of CPU (the typed msgspec decode of a
``JournalPosted`` about 35, ``mutate`` about 10, psycopg about 15), the books' bulk fold
(binary ``COPY`` of the base rows, totals derived once: docs/books.md, "Rebuilding in
bulk") about 20 us in Python (decode, ``COPY`` records) plus about 35 us in PostgreSQL
(``COPY``, derivation, index builds), the trial
balance's fold and the comparisons about 30 us more: some 200 us of CPU per event, so two
cores cap it near 10,000 events/s. Reaching 50,000 would take the checks split by position
range over more cores (each range's chain starts from the previous row's stored hash; the
stock replay of a range re-reads the aggregates it continues; the books' base rows do not
depend on order, their totals are derived once), or a stock replay that does not decode
every event.

The report names the first broken position or the first differing row of each table.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import multiprocessing
import resource
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TextIO
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import asyncpg
from eventsourcing.application import Application
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import Notification, StoredEvent

from ledger import limits
from ledger.audit.books import broken_invariants
from ledger.audit.chain import GENESIS_HASH, chain_link
from ledger.projections.rebuild import TerminalProgress as RebuildProgress
from ledger.projections.rebuild import drop_deferred_indexes
from ledger.projections.replay import compared_columns
from ledger.projections.runner import (
    INDEX_BUILD_MEMORY,
    BulkLoadProjection,
    apply_rows,
    log_position,
)
from ledger.store.event_store import RecordedEvent
from ledger.store.group_commit import InlineProjection
from ledger.store.mapper import MsgspecMapper

PAGE_EVENTS: Final = limits.AUDIT_PAGE_EVENTS
# Pages the stock replay worker may run ahead of the fold (its answers are small).
STOCK_PAGES_AHEAD: Final = limits.AUDIT_STOCK_PAGES_AHEAD
# Findings kept per check (the rest are counted): a log broken everywhere must not fill memory.
FINDINGS_PER_CHECK_MAX: Final = limits.AUDIT_FINDINGS_PER_CHECK_MAX
AGGREGATE_CACHE_MAX: Final = limits.AUDIT_AGGREGATE_CACHE_MAX
# Server memory for the comparisons' grouping (the audit's own transaction only).
COMPARE_WORK_MEM: Final = "128MB"
# runner.ROW_COLUMNS (what projections fold), then the stored chain hash.
_COLUMNS: Final = (
    "notification_id, originator_id, topic, state, originator_version, tenant_id, chain_hash"
)


class LedgerApplication(Application[UUID]):
    """The stock eventsourcing application whose tables (``ledger_events``) we write."""

    name = "Ledger"


def stock_env(database_url: str) -> dict[str, str]:
    """eventsourcing's PostgreSQL settings for ``database_url`` (TCP or Unix-socket URL)."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    # The embedded server's URL is postgresql://postgres:@/dbname?host=/socket/dir: psycopg
    # takes the socket directory as the host.
    host = query["host"][0] if "host" in query else (parts.hostname or "localhost")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "MAPPER_TOPIC": "ledger.store.mapper:MsgspecMapper",
        "CREATE_TABLE": "n",
        "POSTGRES_POOL_SIZE": "2",
    }


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that is not as it must be."""

    check: str  # "chain" | "stock" | "projection" | "books"
    message: str
    position: int | None = None
    table: str | None = None


@dataclass
class AuditReport:
    position: int
    events: int = 0
    aggregates: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    broken_links: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # this process's
    stock_peak_rss_mb: float = 0.0  # the stock replay worker's
    more: dict[str, int] = field(default_factory=dict)  # findings counted, not kept, per check

    def add(self, finding: Finding) -> None:
        """Keep ``finding``, or only count it once its check has :data:`FINDINGS_PER_CHECK_MAX`."""
        if sum(f.check == finding.check for f in self.findings) < FINDINGS_PER_CHECK_MAX:
            self.findings.append(finding)
        else:
            self.more[finding.check] = self.more.get(finding.check, 0) + 1

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        timing = (
            f"  {self.events} events in {self.seconds:.1f} s"
            f" ({self.events_per_second:,.0f} events/s); peak RSS {self.peak_rss_mb:.0f} MB"
            f" + {self.stock_peak_rss_mb:.0f} MB (stock replay worker)"
        )
        if self.ok:
            tables = ", ".join(f"{t} ({n} rows)" for t, n in sorted(self.rows.items()))
            return [
                f"audit verify: OK at position {self.position}",
                f"  hash chain intact over {self.events} events",
                f"  stock eventsourcing replay: {self.events} events, "
                f"{self.aggregates} aggregates, each equal to the stored row",
                f"  every projection recomputed and equal to the live tables: {tables}",
                "  books invariants hold (double entry, cascade, checkpoints, changes,"
                " trial balance)",
                timing,
            ]
        out = [f"audit verify: FAILED at position {self.position}"]
        if self.broken_links:
            out.append(f"  hash chain: {self.broken_links} row(s) changed after they were written")
        out += [f"  {f.check}: {f.message}" for f in self.findings]
        out += [f"  {check}: and {n} more like these" for check, n in sorted(self.more.items())]
        out.append(timing)
        return out


class Progress(Protocol):
    """Told about every folded page (position reached, target) and each later phase."""

    def update(self, position: int, target: int) -> None: ...

    def finish(self, position: int) -> None: ...

    def phase(self, text: str) -> None: ...


class TerminalProgress(RebuildProgress):
    """The rebuild's progress bar on stderr, labelled, then one line per later phase."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        super().__init__(stream, width, label="audit verify")

    def phase(self, text: str) -> None:
        self.stream.write(f"audit verify: {text} ...\n")
        self.stream.flush()


# One stored row as both sides see it: (position, originator id, version, topic, state digest).
RowKey = tuple[int, UUID | str, int, str, bytes]
# What the stock replay answers per notification: its row key and the problem found (or None).
StockAnswer = tuple[RowKey, str | None]


def _digest(state: bytes) -> bytes:
    return hashlib.blake2b(state, digest_size=16).digest()


class _StockReader:
    """The stock library's view of the log. It runs in a worker process of its own (see
    :func:`_stock_page`): its decode and ``mutate`` of every event are the audit's largest CPU
    cost, and there they run beside the fold instead of taking turns with it for the GIL."""

    def __init__(self, database_url: str) -> None:
        self.app = LedgerApplication(env=stock_env(database_url))
        self.aggregates: OrderedDict[UUID, Any] = OrderedDict()
        # Aggregates applied (each has exactly one version-1 event): a count, not a set of
        # ids, so memory stays flat however many aggregates the log has.
        self.created = 0

    def close(self) -> None:
        self.app.close()

    def page(self, after: int, upto: int) -> list[StockAnswer]:
        """Notifications in (after, upto], each decoded and applied to its aggregate: its
        row key (the state as a digest: the answer crosses a process boundary) and the
        problem found (or None)."""
        out: list[StockAnswer] = []
        recorder: Any = self.app.recorder
        notifications: list[Notification] = recorder.select_notifications(
            start=after, limit=upto - after, stop=upto, inclusive_of_start=False
        )
        for n in notifications:
            key = (n.id, n.originator_id, n.originator_version, n.topic, _digest(n.state))
            try:
                event = self.app.mapper.to_domain_event(n)
            except Exception as e:
                out.append((key, f"the stock mapper cannot decode it: {e}"))
                continue
            out.append((key, self._mutate(event)))
        return out

    def _mutate(self, event: Any) -> str | None:
        assert isinstance(event, CanMutateAggregate)
        aggregate_id: UUID = event.originator_id
        try:
            aggregate = self.aggregates.pop(aggregate_id, None)
            if aggregate is None and event.originator_version > 1:
                aggregate = self.app.repository.get(
                    aggregate_id, version=event.originator_version - 1
                )
            aggregate = event.mutate(aggregate)
        except Exception as e:
            return f"the stock library cannot apply it to its aggregate: {e!r}"
        self.aggregates[aggregate_id] = aggregate
        if event.originator_version == 1:
            self.created += 1
        if len(self.aggregates) > AGGREGATE_CACHE_MAX:
            self.aggregates.popitem(last=False)
        return None


# The worker process's reader (one worker: pages must be applied in order).
_worker_reader: _StockReader | None = None


def _stock_start(database_url: str) -> None:
    global _worker_reader
    _worker_reader = _StockReader(database_url)


def _stock_page(after: int, upto: int) -> list[StockAnswer]:
    assert _worker_reader is not None
    return _worker_reader.page(after, upto)


def _stock_finish() -> tuple[int, float]:
    """Close the reader; (aggregates applied, the worker's peak RSS in MB)."""
    global _worker_reader
    assert _worker_reader is not None
    reader, _worker_reader = _worker_reader, None
    reader.close()
    created = reader.created
    # Collected now, while the interpreter is whole (the stock datastore's __del__ closes
    # again, and fails noisily once the worker's modules are being torn down).
    del reader
    gc.collect()
    return created, _peak_rss_mb()


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB: ``VmHWM`` from ``/proc/self/status``, the
    high-water mark of this process image alone (``ru_maxrss`` is not: Linux carries the
    peak of the memory image replaced by ``exec`` into it, so a child started by a large
    parent reports at least the parent's size when it forked). ``ru_maxrss`` where there is
    no ``/proc``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class TableDifference:
    """How a live table and its replay differ, as multisets of rows (surrogate keys aside)."""

    live_rows: int
    only_live: int  # rows (with multiplicity) the live table has more often than the replay
    only_replay: int
    first_live: str | None  # the first of them in column order, as PostgreSQL prints a row
    first_replay: str | None

    @property
    def equal(self) -> bool:
        return self.only_live == 0 and self.only_replay == 0

    def sentence(self) -> str:
        parts = []
        if self.first_live is not None:
            parts.append(f"live row {self.first_live} is not in the replay")
        if self.first_replay is not None:
            parts.append(f"the replay has {self.first_replay} instead")
        return f"{self.only_live} live / {self.only_replay} replayed row(s) differ; " + "; ".join(
            parts
        )


async def compare_table(
    conn: asyncpg.Connection[Any], live_schema: str, replay_schema: str, table: str
) -> TableDifference:
    """Compare ``table`` in the two schemas in one grouping pass in the server (module doc):
    what comes back is four numbers and at most two rows, whatever the table's size."""
    columns = await compared_columns(conn, table, live_schema)
    cols = ", ".join(_q(c) for c in columns)
    live = f"{_q(live_schema)}.{_q(table)}"
    replay = f"{_q(replay_schema)}.{_q(table)}"
    row = await conn.fetchrow(
        f"""
        WITH d AS MATERIALIZED (
            SELECT {cols}, sum(side) AS n FROM (
                SELECT {cols}, 1 AS side FROM {live}
                UNION ALL
                SELECT {cols}, -1 AS side FROM {replay}
            ) AS u
            GROUP BY {cols} HAVING sum(side) <> 0
        )
        SELECT
            (SELECT count(*) FROM {live}) AS live_rows,
            (SELECT coalesce(sum(n), 0) FROM d WHERE n > 0) AS only_live,
            (SELECT coalesce(-sum(n), 0) FROM d WHERE n < 0) AS only_replay,
            (SELECT ROW({cols})::text FROM d WHERE n > 0 ORDER BY {cols} LIMIT 1) AS first_live,
            (SELECT ROW({cols})::text FROM d WHERE n < 0 ORDER BY {cols} LIMIT 1)
                AS first_replay
        """
    )
    assert row is not None
    return TableDifference(
        int(row["live_rows"]),
        int(row["only_live"]),
        int(row["only_replay"]),
        row["first_live"],
        row["first_replay"],
    )


async def _prepare_scratch(
    work: asyncpg.Connection[Any],
    live_schema: str,
    scratch: str,
    tables: Sequence[str],
    bulk_tables: Sequence[str],
) -> list[str]:
    """Create the scratch tables (unlogged: they never outlive the transaction, so writing
    WAL for them is waste); return the definitions of the non-unique indexes dropped from
    ``bulk_tables`` (built once before the bulk fold is finished, as a rebuild does)."""
    await work.execute(f"CREATE SCHEMA {_q(scratch)}")
    for table in tables:
        await work.execute(
            f"CREATE UNLOGGED TABLE {_q(scratch)}.{_q(table)}"
            f" (LIKE {_q(live_schema)}.{_q(table)} INCLUDING ALL)"
        )
    # Surrogate keys from sequences of the audit's own: the live sequences stay untouched.
    serials = await work.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND column_default LIKE 'nextval(%'",
        scratch,
    )
    for i, serial in enumerate(serials):
        sequence = f"{_q(scratch)}.{_q(f'serial_{i}')}"
        await work.execute(f"CREATE UNLOGGED SEQUENCE {sequence}")
        await work.execute(
            f"ALTER TABLE {_q(scratch)}.{_q(serial['table_name'])} ALTER COLUMN"
            f" {_q(serial['column_name'])} SET DEFAULT nextval('{sequence}')"
        )
    return await drop_deferred_indexes(work, scratch, bulk_tables)


async def _read_page(snap: asyncpg.Connection[Any], after: int, upto: int) -> list[asyncpg.Record]:
    return await snap.fetch(
        f"SELECT {_COLUMNS} FROM ledger_events"
        " WHERE notification_id > $1 AND notification_id <= $2 ORDER BY notification_id",
        after,
        upto,
    )


class _Pages:
    """The pages of the log: ours (asyncpg, in the snapshot; the next one fetched while the
    current one is folded) and the stock worker's answers (up to :data:`STOCK_PAGES_AHEAD`
    ahead). Ours hold whole rows, so at most two of them are in memory; the worker's answers
    are a few dozen bytes per event."""

    def __init__(
        self,
        snap: asyncpg.Connection[Any],
        stock: ProcessPoolExecutor,
        head: int,
        page_events: int,
    ) -> None:
        self.snap = snap
        self.stock = stock
        self.head = head
        self.page_events = page_events
        self._ours: tuple[int, asyncio.Task[list[asyncpg.Record]]] | None = None
        self._theirs: list[asyncio.Future[list[StockAnswer]]] = []
        self._asked = 0  # the stock worker has been asked for every position up to here

    def _ask_stock(self) -> None:
        loop = asyncio.get_running_loop()
        while self._asked < self.head and len(self._theirs) <= STOCK_PAGES_AHEAD:
            upto = min(self._asked + self.page_events, self.head)
            future = self.stock.submit(_stock_page, self._asked, upto)
            self._theirs.append(asyncio.wrap_future(future, loop=loop))
            self._asked = upto

    def _fetch(self, after: int) -> None:
        upto = min(after + self.page_events, self.head)
        self._ours = (
            (upto, asyncio.ensure_future(_read_page(self.snap, after, upto)))
            if upto > after
            else None
        )

    def start(self) -> None:
        self._ask_stock()
        self._fetch(0)

    async def next(self) -> tuple[int, list[asyncpg.Record], list[StockAnswer]] | None:
        if self._ours is None:
            return None
        upto, ours_task = self._ours
        ours = await ours_task
        theirs = await self._theirs.pop(0)
        self._fetch(upto)
        self._ask_stock()
        return upto, ours, theirs

    async def cancel(self) -> None:
        pending: list[asyncio.Future[Any]] = [*self._theirs]
        if self._ours is not None:
            pending.append(self._ours[1])
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._ours, self._theirs = None, []


def _check_page(
    report: AuditReport,
    prev: bytes,
    ours: Sequence[asyncpg.Record],
    theirs: Sequence[StockAnswer],
) -> bytes:
    """The chain and stock checks of one page; the new previous hash."""
    mine: dict[int, RowKey] = {}
    for r in ours:
        row = RecordedEvent(r[0], r[1], r[4], r[2], r[3], r[5], r[6])
        link = chain_link(prev, row)
        if link != row.chain_hash:
            report.broken_links += 1
            if report.broken_links == 1:
                report.add(
                    Finding(
                        "chain",
                        f"the hash chain breaks at position {row.position}: the row was"
                        f" changed after it was written (stored {row.chain_hash.hex()},"
                        f" recomputed {link.hex()})",
                        position=row.position,
                    )
                )
        prev = row.chain_hash
        mine[row.position] = (
            row.position,
            row.originator_id,
            row.originator_version,
            row.topic,
            _digest(row.state),
        )
    for key, problem in theirs:
        position = key[0]
        if mine.pop(position, None) != key:
            problem = problem or "the stock reader and our store read different rows"
        if problem is not None:
            report.add(Finding("stock", f"position {position}: {problem}", position))
    for missing in sorted(mine):
        report.add(
            Finding("stock", f"position {missing}: the stock reader did not see it", missing)
        )
    return prev


@dataclass(frozen=True, slots=True)
class _ScratchSide:
    """The audit's second connection, in the snapshot, beside its scratch schema; what each
    projection folds there (up to ``limits[name]``) and the tables it writes."""

    work: asyncpg.Connection[Any]
    live_schema: str
    schema: str
    projections: list[InlineProjection]
    limits: dict[str, int]
    tables: list[str]

    @property
    def bulk(self) -> list[BulkLoadProjection]:
        """The projections that load in bulk (the books)."""
        return [p for p in self.projections if isinstance(p, BulkLoadProjection)]


async def _import_snapshot(work: asyncpg.Connection[Any], snapshot_id: str) -> None:
    """Make ``work``'s just-started transaction see exactly what the snapshot sees."""
    # The first statement of the transaction: the scratch side sees the live tables
    # exactly as the snapshot does, so the comparisons can run in one query.
    await work.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
    await work.execute(f"SET LOCAL work_mem = '{COMPARE_WORK_MEM}'")


async def _fold_limits(
    snap: asyncpg.Connection[Any],
    head: int,
    inline: Sequence[InlineProjection],
    asynchronous: Sequence[InlineProjection],
) -> dict[str, int]:
    """Projection name -> the last position it folds: ``head`` for inline projections, the
    tracking position (at most ``head``) for asynchronous ones."""
    tracking = {
        r["application_name"]: int(r["notification_id"] or 0)
        for r in await snap.fetch("SELECT application_name, notification_id FROM ledger_tracking")
    }
    limits = {p.name: head for p in inline}
    limits |= {p.name: min(tracking.get(p.name, 0), head) for p in asynchronous}
    return limits


async def _open_scratch_side(
    work: asyncpg.Connection[Any], projections: list[InlineProjection], limits: dict[str, int]
) -> tuple[_ScratchSide, list[str]]:
    """Create the scratch schema and tables and put them first on ``work``'s search path;
    return the side and the definitions of the indexes left out for the bulk fold."""
    live_schema = str(await work.fetchval("SELECT current_schema()"))
    side = _ScratchSide(
        work=work,
        live_schema=live_schema,
        schema=f"ledger_audit_{uuid.uuid4().hex[:12]}",
        projections=projections,
        limits=limits,
        tables=sorted({t for p in projections for t in p.tables}),
    )
    bulk_tables = sorted(
        {t for p in projections if isinstance(p, BulkLoadProjection) for t in p.tables}
    )
    deferred = await _prepare_scratch(work, live_schema, side.schema, side.tables, bulk_tables)
    await work.execute(f"SET LOCAL search_path = {_q(side.schema)}, {_q(live_schema)}")
    return side, deferred


def _start_stock_worker(database_url: str) -> ProcessPoolExecutor:
    """The stock replay's worker process (a ``spawn`` pool of one)."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_stock_start,
        initargs=(database_url,),
    )


async def _fold_pages(
    report: AuditReport, pages: _Pages, side: _ScratchSide, progress: Progress | None
) -> bytes:
    """Check every page's chain and stock answers, and fold it into the scratch tables;
    the last row's stored chain hash (``GENESIS_HASH`` for an empty log)."""
    mapper = MsgspecMapper()
    prev = GENESIS_HASH
    while (page := await pages.next()) is not None:
        upto, ours, theirs = page
        prev = _check_page(report, prev, ours, theirs)
        report.events += len(ours)
        await _fold_page(report, side, mapper, upto, ours)
        if progress is not None:
            progress.update(upto, report.position)
    return prev


async def _apply_page(
    side: _ScratchSide, mapper: MsgspecMapper, upto: int, rows: Sequence[asyncpg.Record]
) -> None:
    """Fold ``rows`` (positions up to ``upto``) into the scratch tables, each projection up
    to its limit."""
    # The rebuild's bulk path (runner.apply_rows): base rows only for projections that
    # load in bulk (the books), each projection's fast path where it has one, else
    # the events of its topics decoded by the service's mapper. The rows are the
    # ones the stock library decoded and applied (checked by _check_page, digest by digest).
    for projection in side.projections:
        limit = side.limits[projection.name]
        mine = rows if limit >= upto else [r for r in rows if r[0] <= limit]
        await apply_rows(side.work, [projection], mine, mapper, bulk=True)


async def _fold_page(
    report: AuditReport,
    side: _ScratchSide,
    mapper: MsgspecMapper,
    upto: int,
    ours: Sequence[asyncpg.Record],
) -> None:
    """Fold one page; never raises for what a row holds. A tampered row may no longer decode
    (or fold): the page is then folded again row by row, and each row that cannot be folded
    is left out of the recomputation and reported as a projection finding naming its
    position (the tables compared later show what it would have written)."""
    # A savepoint per page (cheap) rather than per row: a page of sound rows folds in bulk.
    page = side.work.transaction()
    await page.start()
    try:
        await _apply_page(side, mapper, upto, ours)
    except Exception:
        await page.rollback()
    else:
        await page.commit()
        return
    for row in ours:
        one = side.work.transaction()
        await one.start()
        try:
            await _apply_page(side, mapper, row[0], [row])
        except Exception as e:
            await one.rollback()
            report.add(Finding("projection", _unfoldable(row, mapper, e), position=row[0]))
        else:
            await one.commit()


def _unfoldable(row: asyncpg.Record, mapper: MsgspecMapper, error: Exception) -> str:
    """Why the row at ``row[0]`` cannot be folded, in one sentence."""
    try:
        mapper.to_domain_event(StoredEvent(row[1], row[4], row[2], row[3]))
    except Exception as e:
        return (
            f"position {row[0]}: its event cannot be decoded ({type(e).__name__}: {e});"
            " left out of the recomputation"
        )
    return (
        f"position {row[0]}: folding its event fails ({type(error).__name__}: {error});"
        " left out of the recomputation"
    )


def _check_chain_head(report: AuditReport, last_hash: bytes, head: asyncpg.Record) -> None:
    """The log must end where ``ledger_chain_head`` (written by every append, in the same
    transaction) says it does, with the same hash: rows removed from the end of the log, or
    an end rewritten with a chain of its own, leave every remaining link intact and are
    found only here."""
    position, chain_hash = head["position"], bytes(head["chain_hash"])
    if position > report.position:
        report.add(
            Finding(
                "chain",
                f"the log ends at position {report.position} but its chain head records"
                f" position {position}: the newest {position - report.position} event(s)"
                " were removed",
                position=report.position + 1,
            )
        )
    elif position < report.position:
        report.add(
            Finding(
                "chain",
                f"the log goes on to position {report.position} past its chain head"
                f" (position {position}): rows were added outside the append",
                position=position + 1,
            )
        )
    elif chain_hash != last_hash:
        report.add(
            Finding(
                "chain",
                f"the last row's chain hash ({last_hash.hex()}) is not the chain head's"
                f" ({chain_hash.hex()}): the end of the log was replaced",
                position=position,
            )
        )


async def _finish_bulk_fold(
    side: _ScratchSide, deferred: Sequence[str], progress: Progress | None
) -> None:
    """Derive the bulk projections' totals, then build the indexes left out."""
    if progress is not None and side.bulk:
        progress.phase("deriving the books' totals in bulk")
    # As a rebuild does (rebuild._Rebuild.finish_bulk): derive first (it reads whole
    # tables, no index), then build the indexes left out, each in one pass.
    for projection in side.bulk:
        await projection.finish_bulk(side.work)
    await side.work.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    for definition in deferred:
        await side.work.execute(definition)


async def _compare_tables(
    report: AuditReport, side: _ScratchSide, progress: Progress | None
) -> None:
    """Compare every scratch table with its live one; a difference is a projection finding."""
    if progress is not None:
        progress.phase(f"comparing {len(side.tables)} tables")
    for table in side.tables:
        writers = [p for p in side.projections if table in p.tables]
        difference = await compare_table(side.work, side.live_schema, side.schema, table)
        report.rows[table] = difference.live_rows
        if not difference.equal:
            folded = ", ".join(f"{p.name} up to position {side.limits[p.name]}" for p in writers)
            report.add(
                Finding(
                    "projection",
                    f"{', '.join(p.name for p in writers)}: table {table} (folded by"
                    f" {folded}): {difference.sentence()}",
                    table=table,
                )
            )


async def _check_books(
    report: AuditReport, snap: asyncpg.Connection[Any], progress: Progress | None
) -> None:
    """The books' invariants on the live rows of the snapshot."""
    if progress is not None:
        progress.phase("checking the books' invariants")
    for broken in await broken_invariants(snap):
        report.add(Finding("books", broken.message()))


async def verify(
    database_url: str,
    inline: Sequence[InlineProjection],
    asynchronous: Sequence[InlineProjection],
    *,
    page_events: int = PAGE_EVENTS,
    progress: Progress | None = None,
) -> AuditReport:
    """Run the checks of the module docstring; never writes anything that lasts."""
    started = time.perf_counter()
    snap = await asyncpg.connect(database_url)
    work = await asyncpg.connect(database_url)
    stock: ProcessPoolExecutor | None = None
    pages: _Pages | None = None
    snapshot = snap.transaction(isolation="repeatable_read", readonly=True)
    scratch_tx = work.transaction(isolation="repeatable_read")
    scratch_started = False
    await snapshot.start()
    try:
        snapshot_id = await snap.fetchval("SELECT pg_export_snapshot()")
        await scratch_tx.start()
        scratch_started = True
        await _import_snapshot(work, snapshot_id)
        head = await log_position(snap)
        chain_head = await snap.fetchrow("SELECT position, chain_hash FROM ledger_chain_head")
        assert chain_head is not None, "migration 0001 inserts the chain head's one row"
        report = AuditReport(position=head)
        limits = await _fold_limits(snap, head, inline, asynchronous)
        side, deferred = await _open_scratch_side(work, [*inline, *asynchronous], limits)

        stock = _start_stock_worker(database_url)
        pages = _Pages(snap, stock, head, page_events)
        pages.start()
        last_hash = await _fold_pages(report, pages, side, progress)
        _check_chain_head(report, last_hash, chain_head)
        report.aggregates, report.stock_peak_rss_mb = await asyncio.wrap_future(
            stock.submit(_stock_finish)
        )
        if progress is not None:
            progress.finish(head)
        await _finish_bulk_fold(side, deferred, progress)
        await _compare_tables(report, side, progress)
        if "balances" in side.tables:
            await _check_books(report, snap, progress)
        report.seconds = time.perf_counter() - started
        report.peak_rss_mb = _peak_rss_mb()
        return report
    finally:
        if pages is not None:
            await pages.cancel()
        if stock is not None:
            stock.shutdown(wait=True, cancel_futures=True)
        if scratch_started:
            await scratch_tx.rollback()
        await snapshot.rollback()
        await work.close()
        await snap.close()
