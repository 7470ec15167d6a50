"""``ledger records import FILE --stream KEY --tenant SLUG [--format F] [--mapping JSON]``.

Imports a bank statement file (CSV, OFX, SWIFT MT940/MT942, ISO 20022 camt.052/053/054)
into a data stream of a tenant: the same use case as ``POST /v1/records/import``
(:mod:`ledger.commands.statement_import`). Prints one JSON object on stdout: the import
report's head (``format``, ``kind``, ``accounts``, ``data_stream_keys``, ``created``,
``existing``, ``skipped``, ``refused``, ``skipped_lines``, ``warnings``) with ``tenant``,
``file`` and the refused lines as ``errors``.

Exit codes (as ``ledger``'s): 0 every transaction imported (or already there); 1 refused (no
such tenant, an unreadable statement or a bank's error response, accounts that do not fit
the stream, a line whose ``external_id`` exists with other content); 2 bad usage (the file
cannot be read, a malformed ``--mapping`` or ``--stream``).

``ledger.cli.build_parser`` adds it with ``add_records_commands(sub)``; it also
runs alone as ``python -m ledger.cli_records records import ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ledger.bootstrap import open_services
from ledger.commands.records import check_stream_key
from ledger.commands.statement_import import StatementImportRequest, import_statement
from ledger.config import ConfigError, Settings, load_settings
from ledger.errors import LedgerError
from ledger.importers import FORMAT_NAMES


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def cmd_records_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as e:
        sys.stderr.write(f"ledger: cannot read {path}: {e.strerror}\n")
        return 2
    mapping = None
    if args.mapping:
        try:
            mapping = json.loads(args.mapping)
        except ValueError:
            mapping = None
        if not isinstance(mapping, dict):
            sys.stderr.write("ledger: --mapping is a JSON object\n")
            return 2
    try:
        stream = check_stream_key(args.stream, "--stream")
    except LedgerError as e:
        sys.stderr.write(f"ledger: {e.message}\n")
        return 2
    request = partial(
        StatementImportRequest,
        content=content,
        filename=path.name,
        data_stream_key=stream,
        format=args.format,
        mapping=mapping,
        decimal_places=args.decimal_places,
        split_by_account=args.split_by_account,
        account=args.account,
    )
    try:
        return asyncio.run(_import(settings, args.tenant, request))
    except LedgerError as e:
        named = e.message if "file" in e.details else f"{path.name}: {e.message}"
        sys.stderr.write(f"ledger: {named}\n")
        return 1


async def _import(
    settings: Settings, slug: str, request: Callable[..., StatementImportRequest]
) -> int:
    """Import ``request(tenant_id=…)`` into the tenant ``slug``; print the report; the exit
    code."""
    async with open_services(settings, run_projections=False) as services:
        tenant_id = await services.pool.fetchval(
            "SELECT tenant_id FROM tenants WHERE slug = $1", slug
        )
        if tenant_id is None:
            sys.stderr.write(f"ledger: no tenant {slug!r}\n")
            return 1
        command = request(tenant_id=tenant_id)
        report = await import_statement(services.records, command)
    errors = [
        {
            "location": line.location,
            "data_stream_key": line.data_stream_key,
            "code": line.outcome.code,
            "message": line.outcome.message,
            "details": line.outcome.details,
        }
        for line in report.lines
        if isinstance(line.outcome, LedgerError)
    ]
    head = {"tenant": slug, "file": command.filename, "data_stream_key": command.data_stream_key}
    _print_json({**head, **report.summary(), "errors": errors})
    return 1 if errors else 0


def add_records_commands(subparsers: Any) -> None:
    """Add ``records import`` to ``ledger``'s sub-command parsers (``build_parser``'s ``sub``)."""

    records = subparsers.add_parser("records", help="records of external data streams")
    actions = records.add_subparsers(dest="action", required=True)
    importer = actions.add_parser(
        "import",
        help="import a bank statement file (CSV, OFX, MT940, camt.053) into a data stream",
    )
    importer.add_argument("file", help="the statement file")
    importer.add_argument("--stream", required=True, help="the data stream key, e.g. bank:main")
    importer.add_argument("--tenant", required=True, help="the tenant's slug")
    importer.add_argument(
        "--format", choices=FORMAT_NAMES, help="the file's format (default: detected from the file)"
    )
    importer.add_argument(
        "--mapping", help='CSV only: the column mapping as JSON, e.g. {"date": "Booking Date"}'
    )
    importer.add_argument(
        "--decimal-places",
        type=int,
        default=2,
        choices=range(19),
        metavar="N",
        help="CSV, and currencies outside ISO 4217: decimals of the amounts (default 2)",
    )
    importer.add_argument(
        "--account", help="the account the file must hold (refused if it holds another)"
    )
    importer.add_argument(
        "--split-by-account",
        action="store_true",
        help="put each account's lines in the data stream STREAM:ACCOUNT (else a file of"
        " several accounts is refused)",
    )
    importer.set_defaults(func=cmd_records_import)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ledger")
    add_records_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.stderr.write(f"ledger: configuration error: {e}\n")
        return 2
    result: int = args.func(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
