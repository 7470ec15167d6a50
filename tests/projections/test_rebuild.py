"""``ledger projections rebuild``: the swapped-in tables are the live ones in every respect
(rows, indexes, constraints, foreign keys, sequences), and tracking moves with them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from ledger.bootstrap import Services, all_projections, async_projections
from ledger.projections.rebuild import rebuild, with_shared_tables
from ledger.projections.replay import projected_tables
from ledger.projections.trial_balance import TrialBalanceProjection
from tests.integration.test_cli import run_cli
from tests.projections.helpers import (
    REACH_WAIT_SECONDS,
    fresh_replay_differences,
    open_books,
    random_activity,
    run_cli_async,
)


async def _catalog(conn: Any, tables: list[str]) -> dict[str, Any]:
    """What a table is besides its rows: index and constraint names and definitions."""
    indexes = await conn.fetch(
        "SELECT tablename, indexname, regexp_replace(indexdef, ' ON \\S+', ' ON t') AS d"
        " FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1::text[])"
        " ORDER BY 1, 2",
        tables,
    )
    constraints = await conn.fetch(
        "SELECT r.relname, c.conname, c.contype, pg_get_constraintdef(c.oid) AS d,"
        " c.convalidated FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid"
        " JOIN pg_namespace n ON n.oid = r.relnamespace"
        " WHERE n.nspname = 'public' AND r.relname = ANY($1::text[]) ORDER BY 1, 2",
        tables,
    )
    defaults = await conn.fetch(
        "SELECT table_name, column_name, column_default FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = ANY($1::text[])"
        " AND column_default IS NOT NULL ORDER BY 1, 2",
        tables,
    )
    schemas = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ledger_re%' ORDER BY 1"
    )
    return {
        "indexes": [tuple(r) for r in indexes],
        "constraints": [tuple(r) for r in constraints],
        "defaults": [tuple(r) for r in defaults],
        "schemas": [r[0] for r in schemas],
    }


async def test_rebuilt_tables_equal_a_fresh_replay_and_keep_their_schema(
    services: Services, database_url: str, server_url: str
) -> None:
    books = await open_books(services)
    rng = random.Random(9)
    for _ in range(30):
        await random_activity(services, books, rng)
    # Annotated journals among them: the rebuilt rows carry their notes.
    assert await services.pool.fetchval("SELECT count(*) FROM journals WHERE metadata IS NOT NULL")
    tables = projected_tables(all_projections())
    journals_sql = "SELECT * FROM journals ORDER BY journal_id"
    journals_before = await services.pool.fetch(journals_sql)
    before = await _catalog(services.pool, tables)
    movements_before = await services.pool.fetchval(
        "SELECT max(movement_id) FROM balance_movements"
    )

    report = await rebuild(
        database_url,
        all_projections(),
        async_names={p.name for p in async_projections()},
        batch_events=7,
        # Most of the log in bulk (books: base rows, then the totals derived at once), the
        # last events folded batch by batch and in the swap.
        swap_lag_events=10,
    )
    assert report.position == await services.store.max_position()
    assert await services.pool.fetch(journals_sql) == journals_before

    after = await _catalog(services.pool, tables)
    assert after["indexes"] == before["indexes"]
    assert after["constraints"] == before["constraints"]
    assert after["defaults"] == before["defaults"]
    assert after["schemas"] == []  # neither the scratch nor the retired schema is left
    # Writes go on into the new tables: ids from the same sequence, limits still checked.
    await random_activity(services, books, rng)
    assert await services.pool.fetchval("SELECT max(movement_id) FROM balance_movements") > (
        movements_before
    )
    assert await fresh_replay_differences(services, server_url) == {}


async def test_rebuilding_one_async_projection_moves_its_tracking(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    books = await open_books(services)
    rng = random.Random(1)
    for _ in range(10):
        position = await random_activity(services, books, rng)
    name = TrialBalanceProjection.name
    assert await services.tracker.wait_for(name, position, REACH_WAIT_SECONDS) is not None
    rows_before = await services.pool.fetch("SELECT * FROM trial_balance_daily ORDER BY 1, 2, 3")

    code, stdout, stderr = await run_cli_async(
        database_url, tmp_path, "projections", "rebuild", name
    )
    assert code == 0, stderr
    assert '"rebuilt": ["trial_balance"]' in stdout
    assert await services.pool.fetch("SELECT * FROM trial_balance_daily ORDER BY 1, 2, 3") == (
        rows_before
    )
    tracking = await services.pool.fetchval(
        "SELECT notification_id FROM ledger_tracking WHERE application_name = $1", name
    )
    assert tracking == position

    code, stdout, _ = await run_cli_async(database_url, tmp_path, "projections", "status")
    assert code == 0
    assert {
        "name": "trial_balance",
        "kind": "async",
        "position": position,
        "lag": 0,
        "failing": None,
    } in json.loads(stdout)["projections"]


async def test_a_projection_is_rebuilt_with_every_one_sharing_its_tables() -> None:
    every = all_projections()
    books = [p for p in every if p.name == "books"]
    names = [p.name for p in with_shared_tables(books, every)]
    assert "books" in names
    assert "ledgers" in names  # both write tenant_counters
    assert "trial_balance" not in names


async def test_an_unknown_projection_name_is_refused(database_url: str, tmp_path: Path) -> None:
    done = run_cli(database_url, tmp_path, "projections", "rebuild", "nope")
    assert done.returncode == 2
    assert "unknown projection" in done.stderr


async def test_rebuilding_an_empty_log_swaps_in_empty_tables(database_url: str) -> None:
    report = await rebuild(database_url, all_projections(), batch_events=10)
    assert report.position == 0
    assert report.swap_attempts == 1
