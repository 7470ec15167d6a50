"""Scenario ``audit`` (A1): ``ledger audit verify`` events/s and peak RSS at volume.

Setup, on the scenario's own database:

1. Through the service's own commands (in process): :data:`TENANTS` tenants, each with a
   3-level tree ``TOP`` → :data:`MIDS` ``M…`` → :data:`LEAVES` ``L…`` (so the books' cascade
   has depth), every ledger opened as an event.
2. The log is extended to N journals (N = each of :data:`SIZES`: 100k and 1M; ``--quick``
   100k only; ``--tiny`` :data:`TINY_SIZES`) with ``COPY``: real ``JournalPosted`` events of
   the domain class, encoded by the service's mapper (two entries between two random leaves
   of one tenant, effective dates rising over :data:`DAYS` days), every
   :data:`PENDING_EVERY`-th one posted pending and committed by a ``JournalCommitted`` a few
   positions later; journal numbers continue each tenant's counter, and the hash chain
   continues from the log's head (``ledger_chain_head`` is moved along), so the log is what
   the service would have written.
3. ``ledger projections rebuild`` (every projection, :func:`ledger.projections.rebuild.
   rebuild`) makes every live table the fold of that log (not checked here: P1 is the
   ``volume`` scenario's, per projection).

Measured (rows ``a1@<size>``): ``ledger audit verify`` run as a subprocess, exactly as an
operator runs it; its rate is the log's events over the subprocess's wall time (start-up
included). Its peak RSS is the sum of the peaks of its two processes as verify reports them
(itself and its stock replay worker, each its own ``VmHWM``). For reference only:
``polled_rss_mb`` is the bench's own reading of the verify process's ``VmHWM``
(:func:`ledger.bench.service.run_cli_measured`; it should equal the report's figure for that
process, and does not count the worker), ``wait4_rss_mb`` what ``os.wait4`` says (the
larger of the two processes, not their sum, and at least this bench process's size when it
started verify: Linux carries the peak of the image an ``exec`` replaces into the new one).
The run fails if verify does not answer OK.

Checks (at the largest size measured): A1 >= 50,000 events/s, peak RSS <= 300 MB; and the
peak RSS at the largest size over the smallest (flat in the log's length: <= 1.5).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import asyncpg
from eventsourcing.utils import get_topic

from ledger.audit.chain import chain_link
from ledger.bench.rebuild import copy_log_rows
from ledger.bench.registry import BenchContext, Bound, Check, Ratio, ResultRow, register
from ledger.bench.service import run_cli_measured
from ledger.bootstrap import all_projections, async_projections, open_services
from ledger.config import load_settings
from ledger.domain.journals import EntryLine, Journal
from ledger.domain.ledgers import Direction
from ledger.projections.rebuild import rebuild
from ledger.queries.ledgers import LedgerRef
from ledger.store.event_store import RecordedEvent
from ledger.store.mapper import MsgspecMapper

SIZES: Final = (100_000, 1_000_000)
QUICK_SIZES: Final = (100_000,)
TINY_SIZES: Final = (300, 600)
TENANTS: Final = 2
MIDS: Final = 4
LEAVES: Final = 100  # per tenant
DAYS: Final = 730
PENDING_EVERY: Final = 10
COMMIT_LAG: Final = 5  # positions between a pending journal and its commit
COPY_ROWS: Final = 20_000
VERIFY_SECONDS_MAX: Final = 3_600.0
A1_EVENTS_PER_SECOND_MIN: Final = 50_000.0
A1_RSS_MB_MAX: Final = 300.0
RSS_GROWTH_MAX: Final = 1.5
_START: Final = dt.date(2024, 1, 1)


def _progress(text: str) -> None:
    print(f"  audit: {text} ...", file=sys.stderr, flush=True)


def size_label(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1_000}k" if size % 1_000 == 0 else str(size)


class _Tenant:
    def __init__(self, tenant_id: UUID, leaves: list[tuple[UUID, str]], number: int) -> None:
        self.tenant_id = tenant_id
        self.leaves = leaves
        self.number = number  # the last journal number used


async def _open_books(database_url: str) -> list[_Tenant]:
    """The tenants and their trees, through the service's commands (events and projections
    written as the API would)."""
    settings = load_settings({"LEDGER_DATABASE_URL": database_url})
    tenants: list[_Tenant] = []
    async with open_services(settings, run_projections=False) as services:
        for t in range(TENANTS):
            slug = f"audit-{t}"
            await services.tenants.create_tenant(slug, "USD")
            tenant_id: UUID = await services.pool.fetchval(
                "SELECT tenant_id FROM tenants WHERE slug = $1", slug
            )
            top = await services.ledgers.open_ledger(
                tenant_id, code="TOP", name="Top", type="asset"
            )
            leaves: list[tuple[UUID, str]] = []
            for m in range(MIDS):
                mid = await services.ledgers.open_ledger(
                    tenant_id,
                    code=f"M{m}",
                    name=f"Mid {m}",
                    type="asset",
                    parent=LedgerRef.by_id(top.ledger_id),
                )
                for leaf in range(m, LEAVES, MIDS):
                    code = f"L{leaf:03d}"
                    opened = await services.ledgers.open_ledger(
                        tenant_id,
                        code=code,
                        name=f"Leaf {leaf}",
                        type="asset",
                        parent=LedgerRef.by_id(mid.ledger_id),
                    )
                    leaves.append((opened.ledger_id, code))
            tenants.append(_Tenant(tenant_id, leaves, 0))
    return tenants


class _Log:
    """Appends journals to the log with ``COPY`` (module doc), continuing its chain."""

    def __init__(self, tenants: list[_Tenant], total: int) -> None:
        self.tenants = tenants
        self.total = total  # journals at the largest size: dates spread over it
        self.journals = 0
        self.rng = random.Random(20261207)  # reproducible data, not secrets
        self.mapper = MsgspecMapper()
        self.posted_topic = get_topic(Journal.JournalPosted)
        self.journal_topic = get_topic(Journal)

    def _posted(self, tenant: _Tenant, journal_id: UUID, pending: bool) -> tuple[str, bytes]:
        rng = self.rng
        tenant.number += 1
        day = _START + dt.timedelta(days=self.journals * DAYS // self.total)
        amount = rng.randrange(1, 1_000_000)
        (debit, debit_code), (credit, credit_code) = rng.sample(tenant.leaves, 2)
        sides: tuple[tuple[UUID, str, Direction], ...] = (
            (debit, debit_code, "debit"),
            (credit, credit_code, "credit"),
        )
        lines = tuple(
            EntryLine(
                entry_id=uuid.uuid4(),
                ledger_id=ledger,
                ledger_code=code,
                direction=direction,
                amount=amount,
                currency="USD",
                amount_base=amount,
                description=None,
                metadata={},
            )
            for ledger, code, direction in sides
        )
        event = Journal.JournalPosted(
            originator_id=journal_id,
            originator_version=1,
            timestamp=dt.datetime.now(dt.UTC),
            originator_topic=self.journal_topic,
            tenant_id=tenant.tenant_id,
            number=tenant.number,
            status="pending" if pending else "posted",
            date=day,
            accrual_date=None,
            effective_date=day,
            description=f"audit bench journal {tenant.number}",
            reference=f"INV-{tenant.number:07d}",
            external_id=None,
            currency="USD",
            base_currency="USD",
            exchange_rates={"USD": Decimal(1)},
            entries=lines,
            reversal_of=None,
            warnings=(),
            metadata={},
            request_sha256=f"{rng.getrandbits(256):064x}",
            duplicate_sha256=f"{rng.getrandbits(256):064x}",
            amends=None,
            reporting_currency=None,
            reporting_rates={},
        )
        stored = self.mapper.to_stored_event(event)
        return stored.topic, stored.state

    def _committed(self, tenant: _Tenant, journal_id: UUID) -> tuple[str, bytes]:
        event = Journal.JournalCommitted(
            originator_id=journal_id,
            originator_version=2,
            timestamp=dt.datetime.now(dt.UTC),
            tenant_id=tenant.tenant_id,
        )
        stored = self.mapper.to_stored_event(event)
        return stored.topic, stored.state

    async def extend(self, conn: asyncpg.Connection[Any], journals: int) -> int:
        """Append journals until there are ``journals``; return the log's last position."""
        head = await conn.fetchrow("SELECT position, chain_hash FROM ledger_chain_head")
        assert head is not None
        position, prev = int(head["position"]), bytes(head["chain_hash"])
        # (due position, tenant, journal id) of pending journals not committed yet
        commits: list[tuple[int, _Tenant, UUID]] = []
        while self.journals < journals or commits:
            rows: list[tuple[Any, ...]] = []
            while len(rows) < COPY_ROWS and (self.journals < journals or commits):
                position += 1
                if commits and (commits[0][0] <= position or self.journals >= journals):
                    _, tenant, journal_id = commits.pop(0)
                    version = 2
                    topic, state = self._committed(tenant, journal_id)
                else:
                    tenant = self.tenants[self.journals % len(self.tenants)]
                    journal_id = uuid.uuid4()
                    version = 1
                    pending = self.journals % PENDING_EVERY == PENDING_EVERY - 1
                    topic, state = self._posted(tenant, journal_id, pending)
                    self.journals += 1
                    if pending:
                        commits.append((position + COMMIT_LAG, tenant, journal_id))
                row = RecordedEvent(
                    position, journal_id, version, topic, state, tenant.tenant_id, b""
                )
                prev = chain_link(prev, row)
                rows.append((journal_id, version, topic, state, position, tenant.tenant_id, prev))
            await copy_log_rows(conn, rows)
        await conn.execute(
            "UPDATE ledger_chain_head SET position = $1, chain_hash = $2", position, prev
        )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('ledger_events', 'notification_id'), $1)",
            position,
        )
        await conn.execute("ANALYZE ledger_events")
        return position


# The report's last line: "... events/s); peak RSS 80 MB + 129 MB (stock replay worker)".
_RSS_LINE: Final = re.compile(r"peak RSS (\d+) MB \+ (\d+) MB")


@dataclass(frozen=True, slots=True)
class _Verified:
    seconds: float
    rss_mb: float  # verify's own peak plus its stock replay worker's
    main_rss_mb: float
    worker_rss_mb: float
    polled_rss_mb: float  # the bench's own reading of verify's VmHWM (its worker not counted)
    wait4_rss_mb: float  # wait4's ru_maxrss: includes this (parent) process's size at fork


async def _run_verify(database_url: str, workdir: Path) -> _Verified:
    """``ledger audit verify`` as a subprocess, its wall time and memory.

    Raises:
        RuntimeError: it did not answer OK (exit 1), or its report has no memory line.
    """
    run = await run_cli_measured(database_url, workdir, ["audit", "verify"], VERIFY_SECONDS_MAX)
    out = run.stdout.decode()
    found = _RSS_LINE.search(out)
    if "audit verify: OK" not in out or found is None:
        raise RuntimeError(f"ledger audit verify did not pass:\n{out}")
    main, worker = float(found[1]), float(found[2])
    return _Verified(run.seconds, main + worker, main, worker, run.peak_rss_mb, run.wait4_rss_mb)


async def _a1(ctx: BenchContext) -> list[ResultRow]:
    sizes = TINY_SIZES if ctx.tiny else QUICK_SIZES if ctx.quick else SIZES
    _progress("opening tenants and ledgers")
    tenants = await _open_books(ctx.database_url)
    log = _Log(tenants, sizes[-1])
    rows: list[ResultRow] = []
    for size in sizes:
        conn = await asyncpg.connect(ctx.database_url)
        try:
            _progress(f"writing the log up to {size:,} journals")
            events = await log.extend(conn, size)
        finally:
            await conn.close()
        _progress(f"rebuilding every projection over {events:,} events")
        built = await rebuild(
            ctx.database_url,
            all_projections(),
            async_names={p.name for p in async_projections()},
        )
        _progress(f"ledger audit verify over {events:,} events")
        with tempfile.TemporaryDirectory(prefix="ledger-bench-audit-") as tmp:
            verified = await _run_verify(ctx.database_url, Path(tmp))
        rows.append(
            ResultRow(
                key=f"a1@{size_label(size)}",
                label=f"ledger audit verify, {size:,} journals ({events:,} events)",
                unit="events/s",
                concurrency=1,
                operations=events,
                seconds=verified.seconds,
                p50_ms=0.0,
                p99_ms=0.0,
                extra={
                    "journals": float(size),
                    "peak_rss_mb": verified.rss_mb,
                    "main_rss_mb": verified.main_rss_mb,
                    "worker_rss_mb": verified.worker_rss_mb,
                    "polled_rss_mb": verified.polled_rss_mb,
                    "wait4_rss_mb": verified.wait4_rss_mb,
                    "setup_rebuild_events_per_s": built.events_per_second,
                },
            )
        )
    return rows


def _checks(rows: Sequence[ResultRow]) -> list[Check]:
    """A1's targets at the largest size measured; RSS growth from the smallest."""
    if not rows:
        return []
    ordered = sorted(rows, key=lambda r: r.extra["journals"])
    largest, smallest = ordered[-1], ordered[0]
    size = largest.key.partition("@")[2]
    checks: list[Check] = [
        Bound(
            label=f"A1 audit verify events/s at {size} journals",
            row=largest.key,
            metric="rate",
            target=A1_EVENTS_PER_SECOND_MIN,
            unit="events/s",
            at_least=True,
        ),
        Bound(
            label=f"A1 audit verify peak RSS at {size} journals",
            row=largest.key,
            metric="peak_rss_mb",
            target=A1_RSS_MB_MAX,
            unit="MB",
        ),
    ]
    if largest is not smallest:
        checks.append(
            Ratio(
                label=f"A1 peak RSS at {size} / at {smallest.key.partition('@')[2]}",
                numerator=largest.key,
                denominator=smallest.key,
                metric="peak_rss_mb",
                target=RSS_GROWTH_MAX,
                at_most=True,
            )
        )
    return checks


@register(
    "audit",
    description="A1: ledger audit verify (chain, stock replay, projections compared in SQL, "
    "books invariants) events/s and peak RSS at 100k and 1M journals",
    checks=_checks,
)
async def audit_scenario(ctx: BenchContext) -> list[ResultRow]:
    return await _a1(ctx)
