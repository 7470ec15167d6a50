"""``ledger audit verify``: passes on clean books, names the first broken position or the
differing table after an edit (run as the real CLI against a real database)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from ledger.audit.verify import (
    FINDINGS_PER_CHECK_MAX,
    PAGE_EVENTS,
    AuditReport,
    Finding,
    TerminalProgress,
    verify,
)
from ledger.bootstrap import Services, async_projections, inline_projections
from ledger.projections.trial_balance import TrialBalanceProjection
from tests.integration.test_cli import run_cli
from tests.projections.helpers import REACH_WAIT_SECONDS, open_books, random_activity


async def _books_with_history(services: Services) -> int:
    books = await open_books(services)
    rng = random.Random(5)
    position = 0
    for _ in range(25):
        position = await random_activity(services, books, rng)
    reached = await services.tracker.wait_for(
        TrialBalanceProjection.name, position, REACH_WAIT_SECONDS
    )
    assert reached is not None
    return position


async def test_verify_passes_on_clean_books(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    position = await _books_with_history(services)
    annotated = await services.pool.fetchval(
        "SELECT count(*) FROM ledger_events WHERE topic LIKE '%JournalAnnotated'"
    )
    assert annotated > 0  # annotations are folded, replayed and compared too
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"audit verify: OK at position {position}" in done.stdout
    assert "hash chain intact" in done.stdout
    assert "stock eventsourcing replay" in done.stdout
    assert "books invariants hold" in done.stdout
    # Not a terminal: no progress bar, nothing on stderr.
    assert "events/s" not in done.stderr


async def test_verify_fails_naming_the_position_of_an_edited_event(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    await _books_with_history(services)
    edited = await services.pool.fetchval(
        "SELECT notification_id FROM ledger_events WHERE topic LIKE '%JournalPosted'"
        " ORDER BY notification_id OFFSET 3 LIMIT 1"
    )
    # A plausible forgery: the amounts of one journal, raised by one minor unit.
    await services.pool.execute(
        "UPDATE ledger_events SET state = convert_to(regexp_replace(convert_from(state, 'UTF8'),"
        " '\"amount_base\":([0-9]+)', '\"amount_base\":1\\1', 'g'), 'UTF8')"
        " WHERE notification_id = $1",
        edited,
    )
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert f"the hash chain breaks at position {edited}" in done.stdout


async def test_verify_fails_naming_an_edited_read_table(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    await _books_with_history(services)
    await services.pool.execute(
        "UPDATE trial_balance_daily SET debits_base = debits_base + 1"
        " WHERE (tenant_id, effective_date, ledger_id) IN"
        " (SELECT tenant_id, effective_date, ledger_id FROM trial_balance_daily LIMIT 1)"
    )
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "table trial_balance_daily" in done.stdout
    assert "hash chain breaks" not in done.stdout


# One edit per live table, and its inverse (applied to the same row afterwards).
_EDITS = {
    "journals": ("number = number + 1000000", "number = number - 1000000"),
    "journal_entries": ("amount_base = amount_base + 1", "amount_base = amount_base - 1"),
    "balances": ("debits_posted = debits_posted + 1", "debits_posted = debits_posted - 1"),
    "balance_movements": ("debits_base = debits_base + 1", "debits_base = debits_base - 1"),
    "balance_checkpoints": (
        "credits_posted = credits_posted + 1",
        "credits_posted = credits_posted - 1",
    ),
    "balance_changes": ("debits_base = debits_base + 1", "debits_base = debits_base - 1"),
    "ledgers": ("name = name || '!'", "name = left(name, -1)"),
    "tenants": ("name = name || '!'", "name = left(name, -1)"),
    "tenant_counters": ("value = value + 1", "value = value - 1"),
    "trial_balance_daily": ("credits_base = credits_base + 1", "credits_base = credits_base - 1"),
}


async def _verify(database_url: str, page_events: int = PAGE_EVENTS) -> AuditReport:
    return await verify(
        database_url, inline_projections(), async_projections(), page_events=page_events
    )


@pytest.mark.slow
async def test_verify_names_each_edited_table_and_passes_once_it_is_undone(
    services: Services, database_url: str
) -> None:
    """In process (fast): each table edited in turn is the one finding; undone, all is OK
    (checked with pages of 7 events: nothing may depend on one page holding the log)."""
    await _books_with_history(services)
    clean = await _verify(database_url, page_events=7)
    assert clean.ok, clean.lines()
    assert all(clean.rows[table] > 0 for table in _EDITS), clean.rows
    for table, (edit, undo) in _EDITS.items():
        ctid = await services.pool.fetchval(
            f"UPDATE {table} SET {edit} WHERE ctid = (SELECT ctid FROM {table} LIMIT 1)"
            " RETURNING ctid"
        )
        report = await _verify(database_url)
        projection = [f for f in report.findings if f.check == "projection"]
        assert [f.table for f in projection] == [table], report.lines()
        assert "1 live / 1 replayed row(s) differ" in projection[0].message
        await services.pool.execute(f"UPDATE {table} SET {undo} WHERE ctid = $1", ctid)
    assert (await _verify(database_url, page_events=7)).ok


async def test_verify_reports_rows_on_one_side_only(services: Services, database_url: str) -> None:
    await _books_with_history(services)
    await services.pool.execute(
        "DELETE FROM balance_changes WHERE ctid = (SELECT ctid FROM balance_changes LIMIT 1)"
    )
    await services.pool.execute(
        "INSERT INTO trial_balance_daily SELECT tenant_id, effective_date + 1000, ledger_id,"
        " debits_base, credits_base FROM trial_balance_daily LIMIT 1"
    )
    report = await _verify(database_url)
    messages = {f.table: f.message for f in report.findings if f.check == "projection"}
    assert set(messages) == {"balance_changes", "trial_balance_daily"}, report.lines()
    assert "0 live / 1 replayed row(s) differ; the replay has (" in messages["balance_changes"]
    assert "1 live / 0 replayed row(s) differ; live row (" in messages["trial_balance_daily"]
    assert "is not in the replay" in messages["trial_balance_daily"]


async def test_verify_reports_broken_books_invariants(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    """An edit of a balance breaks the paired fold (projection) and the invariants (books)."""
    await _books_with_history(services)
    await services.pool.execute(
        "UPDATE balances SET credits_posted = credits_posted + 5"
        " WHERE ctid = (SELECT ctid FROM balances LIMIT 1)"
    )
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "projection: books: table balances" in done.stdout
    assert "books: books invariant broken: double entry" in done.stdout
    assert "books invariant broken: checkpoints" in done.stdout


def test_report_keeps_a_bounded_number_of_findings_per_check() -> None:
    report = AuditReport(position=100)
    for position in range(1, FINDINGS_PER_CHECK_MAX + 6):
        report.add(Finding("stock", f"position {position}: broken", position))
    report.add(Finding("books", "books invariant broken: double entry"))
    assert len(report.findings) == FINDINGS_PER_CHECK_MAX + 1
    assert report.more == {"stock": 5}
    assert "  stock: and 5 more like these" in report.lines()
    assert not report.ok


def test_progress_bar_reports_events_per_second() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress.update(5_000, 10_000)
    progress.finish(10_000)
    progress.phase("comparing 19 tables")
    text = stream.getvalue()
    assert "10,000/10,000 events" in text
    assert "events/s" in text
    assert text.endswith("audit verify: comparing 19 tables ...\n")


async def test_verify_fails_when_the_newest_events_were_removed(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    """Every remaining link of a log cut short is intact: only the chain head (written by
    each append) shows the end is missing."""
    position = await _books_with_history(services)
    await services.pool.execute(
        "DELETE FROM ledger_events WHERE notification_id > $1", position - 2
    )
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert (
        f"the log ends at position {position - 2} but its chain head records position"
        f" {position}: the newest 2 event(s) were removed"
    ) in done.stdout


async def test_verify_fails_when_the_end_of_the_log_was_replaced(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    """A last row rewritten with a hash recomputed to match its own changes keeps every
    link intact; the chain head still holds the hash the append wrote."""
    await _books_with_history(services)
    forged = bytes(range(32))
    await services.pool.execute("UPDATE ledger_chain_head SET chain_hash = $1", forged)
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"is not the chain head's ({forged.hex()}): the end of the log was replaced" in (
        done.stdout
    )


async def test_verify_reports_an_event_that_no_longer_decodes_instead_of_crashing(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    """One byte of a key of a journal's stored state changed (``"timestamp"`` becomes
    ``"tjmestamp"``): the event no longer decodes. Verify still checks the chain and names the
    broken position, reports the undecodable event as a difference at that position and
    exits 1 with a report, never a traceback (issue 12)."""
    await _books_with_history(services)
    edited = await services.pool.fetchval(
        "UPDATE ledger_events SET state = set_byte(state, 3, get_byte(state, 3) + 1)"
        " WHERE notification_id = (SELECT notification_id FROM ledger_events"
        "  WHERE topic LIKE '%JournalPosted' ORDER BY notification_id OFFSET 3 LIMIT 1)"
        " RETURNING notification_id"
    )
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "audit verify: FAILED" in done.stdout
    assert f"the hash chain breaks at position {edited}" in done.stdout
    assert f"projection: position {edited}: its event cannot be decoded" in done.stdout
    # Left out of the recomputation: the live journal it wrote is not in the replay.
    assert "table journals" in done.stdout
