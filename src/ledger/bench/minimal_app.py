"""W1's baseline: a minimal Litestar + msgspec app that posts a journal as one SQL statement.

What a careful developer would write in an afternoon for "post a 2-entry journal": the same
request the service gets (``POST /v1/journals``, ``X-API-KEY``, ledgers referred to by
``ledger_code``), decoded strictly with msgspec, checked to balance, then one writable CTE
through asyncpg: the event row (the decoded journal as its JSON state), one posting row per
entry and one balance upsert per ledger (in ledger order, so concurrent journals never
deadlock), committed as one statement. An unknown code leaves a posting without a ledger:
the NOT NULL constraint rolls the statement back (422).

It has none of the service's guarantees (journal numbers, idempotency, hash chain, positions
in commit order, parent roll-ups, min-balance checks, projections, tenants): the ratio says
what those cost per request. Its tables live in schema :data:`SCHEMA` of the run's database.

Served like the service: uvicorn (uvloop, httptools) with
:data:`ledger.bench.service.SERVER_WORKERS` processes, started by the scenario as
``python -m ledger.bench.minimal_app --port N --workers N`` with its settings in
``LEDGER_BENCH_MINIMAL_DATABASE_URL`` and ``LEDGER_BENCH_MINIMAL_KEY_SHA256`` (hex SHA-256 of
the accepted API key).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State

SCHEMA: Final = "bench_minimal"
# Connections per server process (the service's pool tops out at 20 too).
POOL_SIZE: Final = 20
ENTRIES_MAX: Final = 500
DATABASE_URL_VARIABLE: Final = "LEDGER_BENCH_MINIMAL_DATABASE_URL"
KEY_SHA256_VARIABLE: Final = "LEDGER_BENCH_MINIMAL_KEY_SHA256"
_JSON: Final = "application/json"


def schema_ddl(schema: str) -> str:
    """The tables of a one-statement journal writer in ``schema`` (also W3's SQL baseline's):
    ledgers by code, events, postings, balances."""
    return f"""
CREATE SCHEMA {schema};
CREATE TABLE {schema}.ledgers (code text PRIMARY KEY, ledger_id uuid NOT NULL UNIQUE);
CREATE TABLE {schema}.events (
    position bigserial PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    effective_date date NOT NULL,
    state bytea NOT NULL
);
CREATE TABLE {schema}.postings (
    position bigint NOT NULL,
    entry_index integer NOT NULL,
    ledger_id uuid NOT NULL,
    effective_date date NOT NULL,
    debit bigint NOT NULL,
    credit bigint NOT NULL,
    PRIMARY KEY (position, entry_index)
);
CREATE INDEX ON {schema}.postings (ledger_id, effective_date, position);
CREATE TABLE {schema}.balances (
    ledger_id uuid PRIMARY KEY,
    debits bigint NOT NULL,
    credits bigint NOT NULL
);
"""


WRITE_SQL: Final = f"""
WITH lines AS (
    SELECT u.ord::integer AS ord, l.ledger_id, u.debit, u.credit
    FROM unnest($4::text[], $5::int8[], $6::int8[]) WITH ORDINALITY AS u(code, debit, credit, ord)
    LEFT JOIN {SCHEMA}.ledgers l ON l.code = u.code
), event AS (
    INSERT INTO {SCHEMA}.events (event_id, effective_date, state) VALUES ($1, $2, $3)
    RETURNING position
), postings AS (
    INSERT INTO {SCHEMA}.postings (position, entry_index, ledger_id, effective_date, debit, credit)
    SELECT event.position, lines.ord, lines.ledger_id, $2, lines.debit, lines.credit
    FROM event, lines
), balances AS (
    INSERT INTO {SCHEMA}.balances AS b (ledger_id, debits, credits)
    SELECT ledger_id, sum(debit), sum(credit) FROM lines GROUP BY ledger_id ORDER BY ledger_id
    ON CONFLICT (ledger_id) DO UPDATE
        SET debits = b.debits + excluded.debits, credits = b.credits + excluded.credits
)
SELECT position FROM event
"""


class EntryBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ledger_code: str
    direction: Literal["debit", "credit"]
    amount: Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)]


class JournalBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    date: dt.date
    reference: str | None = None
    entries: Annotated[list[EntryBody], msgspec.Meta(min_length=2, max_length=ENTRIES_MAX)]


class JournalEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The event row's state: the journal as decoded, under its new id."""

    id: UUID
    date: dt.date
    reference: str | None
    entries: list[EntryBody]


_decoder: Final = msgspec.json.Decoder(JournalBody)
_encoder: Final = msgspec.json.Encoder()


def _error(status: int, code: str, message: str) -> Response[bytes]:
    body = _encoder.encode({"code": code, "message": message, "details": {}})
    return Response(body, status_code=status, media_type=_JSON)


@post("/v1/journals", status_code=201)
async def post_journal(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    presented = request.headers.get("x-api-key", "")
    digest = hashlib.sha256(presented.encode()).hexdigest()
    if not presented or not hmac.compare_digest(digest, state.key_sha256):
        return _error(401, "UNAUTHENTICATED", "missing or unknown API key")
    try:
        journal = _decoder.decode(await request.body())
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError
        return _error(400, "VALIDATION_ERROR", str(error))
    debits = [e.amount if e.direction == "debit" else 0 for e in journal.entries]
    credits = [e.amount if e.direction == "credit" else 0 for e in journal.entries]
    if sum(debits) != sum(credits):
        return _error(422, "JOURNAL_UNBALANCED", "debits and credits differ")
    journal_id = uuid.uuid4()
    event = JournalEvent(
        id=journal_id, date=journal.date, reference=journal.reference, entries=journal.entries
    )
    pool: asyncpg.Pool[Any] = state.pool
    try:
        position = await pool.fetchval(
            WRITE_SQL,
            journal_id,
            journal.date,
            _encoder.encode(event),
            [e.ledger_code for e in journal.entries],
            debits,
            credits,
        )
    except asyncpg.NotNullViolationError:
        return _error(422, "LEDGER_NOT_FOUND", "an entry's ledger does not exist")
    body = _encoder.encode({"id": journal_id, "position": position})
    return Response(body, status_code=201, media_type=_JSON)


@get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


async def _no_reset(_connection: asyncpg.Connection[Any]) -> None:
    """No session state to reset: skip the pool's reset query on every release."""


def create_app() -> Litestar:
    """The app, configured from the environment (see the module's docstring).

    Raises:
        KeyError: a setting is missing.
    """
    database_url = os.environ[DATABASE_URL_VARIABLE]
    key_sha256 = os.environ[KEY_SHA256_VARIABLE]

    async def open_pool(app: Litestar) -> None:
        app.state.key_sha256 = key_sha256
        app.state.pool = await asyncpg.create_pool(
            database_url, min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_no_reset
        )

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    return Litestar(
        route_handlers=[post_journal, ready],
        on_startup=[open_pool],
        on_shutdown=[close_pool],
        openapi_config=None,
    )


def environment(database_url: str, api_key: str) -> dict[str, str]:
    """The variables :func:`create_app` reads, for a server that accepts ``api_key``."""
    return {
        DATABASE_URL_VARIABLE: database_url,
        KEY_SHA256_VARIABLE: hashlib.sha256(api_key.encode()).hexdigest(),
    }


async def prepare(
    conn: asyncpg.Connection[Any], ledgers: Mapping[str, UUID], schema: str = SCHEMA
) -> None:
    """Create the tables in ``schema`` (default: the app's) with ``ledgers`` (id by code)."""
    await conn.execute(schema_ddl(schema))
    await conn.copy_records_to_table(
        "ledgers", schema_name=schema, records=list(ledgers.items()), columns=["code", "ledger_id"]
    )
    await conn.execute(f"ANALYZE {schema}.ledgers")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ledger.bench.minimal_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "ledger.bench.minimal_app:create_app",  # an import string: workers import it anew
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
