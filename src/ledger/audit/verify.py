"""``ledger audit verify``: prove the log is untouched and every read table is its fold.

Three independent checks over one consistent snapshot of the database (a REPEATABLE READ,
read-only transaction; its last position is P, each asynchronous projection's tracking
position T is read in the same snapshot):

1. **Hash chain.** Every row of ``ledger_events`` up to P, page by page, against the
   Python recomputation (:mod:`ledger.audit.chain`): the first row whose stored hash is not
   the hash of the previous stored hash and its own columns is the row that was changed.
2. **Stock replay.** The stock ``eventsourcing`` library (its PostgreSQL recorder and
   ``Application``, configured like any reader of the ``Ledger`` application with
   ``MAPPER_TOPIC=ledger.store.mapper:MsgspecMapper``, in a worker thread since it is
   synchronous) reads every notification up to P. Each must equal the row our store
   reads, decode, and apply to its aggregate (``mutate`` checks ids and versions); the
   aggregates of recent events are cached, others re-read through the stock repository.
3. **Projections.** The events the stock library decoded are folded by every projection's
   own code into scratch tables (``CREATE TABLE … LIKE`` in a schema of the audit's own,
   inside a transaction that is rolled back: the audit writes nothing that lasts): inline
   projections up to P, each asynchronous one up to its T. Then every table is compared row
   by row with the live one in the snapshot (surrogate keys aside).

The report names the first broken position or the first differing row of each table.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import asyncpg
from eventsourcing.application import Application
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import Notification

from ledger.audit.chain import GENESIS_HASH, chain_link
from ledger.projections.replay import table_rows
from ledger.projections.runner import log_position
from ledger.store.event_store import RecordedEvent
from ledger.store.group_commit import InlineProjection, PositionedEvent

PAGE_EVENTS: Final = 5_000
AGGREGATE_CACHE_MAX: Final = 20_000
_COLUMNS: Final = (
    "notification_id, originator_id, originator_version, topic, state, tenant_id, chain_hash"
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

    check: str  # "chain" | "stock" | "projection"
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

    @property
    def ok(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        if self.ok:
            tables = ", ".join(f"{t} ({n} rows)" for t, n in sorted(self.rows.items()))
            return [
                f"audit verify: OK at position {self.position}",
                f"  hash chain intact over {self.events} events",
                f"  stock eventsourcing replay: {self.events} events, "
                f"{self.aggregates} aggregates, each equal to the stored row",
                f"  every projection recomputed and equal to the live tables: {tables}",
            ]
        out = [f"audit verify: FAILED at position {self.position}"]
        if self.broken_links:
            out.append(f"  hash chain: {self.broken_links} row(s) changed after they were written")
        out += [f"  {f.check}: {f.message}" for f in self.findings]
        return out


class _StockReader:
    """The stock library's view of the log (runs in a worker thread: it is synchronous)."""

    def __init__(self, database_url: str) -> None:
        self.app = LedgerApplication(env=stock_env(database_url))
        self.aggregates: OrderedDict[UUID, Any] = OrderedDict()
        self.seen: set[UUID] = set()

    def close(self) -> None:
        self.app.close()

    def page(self, after: int, upto: int, limit: int) -> list[tuple[Notification, Any, str | None]]:
        """Notifications in (after, upto], each decoded and applied to its aggregate, with
        the problem found (or None)."""
        out: list[tuple[Notification, Any, str | None]] = []
        recorder: Any = self.app.recorder
        notifications = recorder.select_notifications(
            start=after, limit=limit, stop=upto, inclusive_of_start=False
        )
        for n in notifications:
            try:
                event = self.app.mapper.to_domain_event(n)
            except Exception as e:
                out.append((n, None, f"the stock mapper cannot decode it: {e}"))
                continue
            out.append((n, event, self._mutate(event)))
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
        self.seen.add(aggregate_id)
        if len(self.aggregates) > AGGREGATE_CACHE_MAX:
            self.aggregates.popitem(last=False)
        return None


def first_difference(
    live: Sequence[tuple[Any, ...]], rebuilt: Sequence[tuple[Any, ...]]
) -> str | None:
    """A sentence naming the first row (in sorted order) present on one side only."""
    live_count = Counter(map(repr, live))
    rebuilt_count = Counter(map(repr, rebuilt))
    only_live = sorted((live_count - rebuilt_count).elements())
    only_rebuilt = sorted((rebuilt_count - live_count).elements())
    if not only_live and not only_rebuilt:
        return None
    parts = []
    if only_live:
        parts.append(f"live row {only_live[0]} is not in the replay")
    if only_rebuilt:
        parts.append(f"the replay has {only_rebuilt[0]} instead")
    return f"{len(only_live)} live / {len(only_rebuilt)} replayed row(s) differ; " + "; ".join(
        parts
    )


async def verify(
    database_url: str,
    inline: Sequence[InlineProjection],
    asynchronous: Sequence[InlineProjection],
    *,
    page_events: int = PAGE_EVENTS,
) -> AuditReport:
    """Run the three checks of the module docstring; never writes anything that lasts."""
    snap = await asyncpg.connect(database_url)
    work = await asyncpg.connect(database_url)
    stock: _StockReader | None = None
    snapshot = snap.transaction(isolation="repeatable_read", readonly=True)
    scratch_tx = work.transaction()
    await snapshot.start()
    await scratch_tx.start()
    try:
        head = await log_position(snap)
        tracking = {
            r["application_name"]: int(r["notification_id"] or 0)
            for r in await snap.fetch(
                "SELECT application_name, notification_id FROM ledger_tracking"
            )
        }
        report = AuditReport(position=head)
        limits = {p.name: head for p in inline}
        limits |= {p.name: min(tracking.get(p.name, 0), head) for p in asynchronous}
        projections = [*inline, *asynchronous]

        live_schema = str(await work.fetchval("SELECT current_schema()"))
        scratch = f"ledger_audit_{uuid.uuid4().hex[:12]}"
        await work.execute(f'CREATE SCHEMA "{scratch}"')
        tables = sorted({t for p in projections for t in p.tables})
        for table in tables:
            await work.execute(
                f'CREATE TABLE "{scratch}"."{table}" (LIKE "{live_schema}"."{table}" INCLUDING ALL)'
            )
        # Surrogate keys from sequences of the audit's own: the live sequences stay untouched.
        serials = await work.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = $1 AND column_default LIKE 'nextval(%'",
            scratch,
        )
        for i, serial in enumerate(serials):
            sequence = f'"{scratch}"."serial_{i}"'
            await work.execute(f"CREATE SEQUENCE {sequence}")
            await work.execute(
                f'ALTER TABLE "{scratch}"."{serial["table_name"]}" ALTER COLUMN'
                f" \"{serial['column_name']}\" SET DEFAULT nextval('{sequence}')"
            )
        await work.execute(f'SET LOCAL search_path = "{scratch}", "{live_schema}"')

        stock = await asyncio.to_thread(_StockReader, database_url)
        prev = GENESIS_HASH
        after = 0
        while after < head:
            upto = min(after + page_events, head)
            ours = [
                RecordedEvent.from_row(r)
                for r in await snap.fetch(
                    f"SELECT {_COLUMNS} FROM ledger_events"
                    " WHERE notification_id > $1 AND notification_id <= $2"
                    " ORDER BY notification_id",
                    after,
                    upto,
                )
            ]
            for row in ours:
                if chain_link(prev, row) != row.chain_hash:
                    report.broken_links += 1
                    if report.broken_links == 1:
                        report.findings.append(
                            Finding(
                                "chain",
                                f"the hash chain breaks at position {row.position}: the row was"
                                f" changed after it was written (stored {row.chain_hash.hex()},"
                                f" recomputed {chain_link(prev, row).hex()})",
                                position=row.position,
                            )
                        )
                prev = row.chain_hash
            page = await asyncio.to_thread(stock.page, after, upto, upto - after)
            by_position = {r.position: r for r in ours}
            events: list[PositionedEvent] = []
            for notification, event, problem in page:
                mine = by_position.pop(notification.id, None)
                if mine is None or (
                    mine.originator_id,
                    mine.originator_version,
                    mine.topic,
                    mine.state,
                ) != (
                    notification.originator_id,
                    notification.originator_version,
                    notification.topic,
                    notification.state,
                ):
                    problem = problem or "the stock reader and our store read different rows"
                if problem is not None:
                    report.findings.append(
                        Finding("stock", f"position {notification.id}: {problem}", notification.id)
                    )
                if event is not None:
                    events.append(PositionedEvent(notification.id, None, event))
            for missing in sorted(by_position):
                report.findings.append(
                    Finding(
                        "stock", f"position {missing}: the stock reader did not see it", missing
                    )
                )
            report.events += len(ours)
            for projection in projections:
                mine_only = [e for e in events if e.position <= limits[projection.name]]
                if mine_only:
                    await projection.apply(work, mine_only)
            after = upto
        report.aggregates = len(stock.seen)

        for projection in projections:
            for table in projection.tables:
                live_rows = await table_rows(snap, table)
                rebuilt_rows = await table_rows(work, table)
                report.rows[table] = len(live_rows)
                difference = first_difference(live_rows, rebuilt_rows)
                if difference is not None:
                    report.findings.append(
                        Finding(
                            "projection",
                            f"{projection.name}: table {table} (folded up to position "
                            f"{limits[projection.name]}): {difference}",
                            table=table,
                        )
                    )
        return report
    finally:
        if stock is not None:
            await asyncio.to_thread(stock.close)
        await scratch_tx.rollback()
        await snapshot.rollback()
        await work.close()
        await snap.close()
