"""``ledger audit verify``: passes on clean books, names the first broken position or the
differing table after an edit (run as the real CLI against a real database)."""

from __future__ import annotations

import random
from pathlib import Path

from ledger.bootstrap import Services
from ledger.projections.trial_balance import TrialBalanceProjection
from tests.integration.test_cli import run_cli
from tests.projections.helpers import open_books, random_activity


async def _books_with_history(services: Services) -> int:
    books = await open_books(services)
    rng = random.Random(5)
    position = 0
    for _ in range(25):
        position = await random_activity(services, books, rng)
    reached = await services.tracker.wait_for(TrialBalanceProjection.name, position, 5.0)
    assert reached is not None
    return position


async def test_verify_passes_on_clean_books(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    position = await _books_with_history(services)
    done = run_cli(database_url, tmp_path, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"audit verify: OK at position {position}" in done.stdout
    assert "hash chain intact" in done.stdout
    assert "stock eventsourcing replay" in done.stdout


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
