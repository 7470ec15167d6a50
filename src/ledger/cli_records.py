"""``ledger records import FILE --stream KEY --tenant SLUG [--format F] [--mapping JSON]``.

Imports a bank statement file (CSV, OFX, SWIFT MT940, ISO 20022 camt.053) into a data stream
of a tenant, with the same parsers and rules as ``POST /v1/records/import``: every
transaction becomes a record with a stable ``external_id``, so importing the same file twice
creates nothing new. Prints one JSON object on stdout:
``{"tenant", "data_stream_key", "format", "created", "existing", "failed", "errors"}``.

Exit codes (as ``ledger``'s): 0 every transaction imported (or already there); 1 refused (no
such tenant, an unreadable statement, a transaction whose ``external_id`` exists with other
content); 2 bad usage (the file cannot be read, a malformed ``--mapping``).

The lead wires it in ``ledger.cli.build_parser`` with ``add_records_commands(sub)``; it also
runs alone as ``python -m ledger.cli_records records import ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.config import ConfigError, Settings, load_settings
from ledger.errors import LedgerError


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def cmd_records_import(settings: Settings, args: argparse.Namespace) -> int:
    from ledger.bootstrap import open_services
    from ledger.commands.records import ImportedRecord, check_record_input, check_stream_key
    from ledger.importers import detect_format, parse_statement, to_record_inputs

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
        fmt = args.format or detect_format(path.name, content)
        parsed = parse_statement(content, fmt, mapping=mapping, decimal_places=args.decimal_places)
        inputs = [check_record_input(r) for r in to_record_inputs(parsed.lines, stream)]
    except LedgerError as e:
        sys.stderr.write(f"ledger: {e.message}\n")
        return 1

    async def run() -> int:
        async with open_services(settings, run_projections=False) as services:
            tenant_id = await services.pool.fetchval(
                "SELECT tenant_id FROM tenants WHERE slug = $1", args.tenant
            )
            if tenant_id is None:
                sys.stderr.write(f"ledger: no tenant {args.tenant!r}\n")
                return 1
            outcomes = await services.records.import_records(tenant_id, inputs) if inputs else []
        created = sum(isinstance(o, ImportedRecord) and not o.replayed for o in outcomes)
        existing = sum(isinstance(o, ImportedRecord) and o.replayed for o in outcomes)
        errors = [
            {"index": i, "code": o.code, "message": o.message, "details": o.details}
            for i, o in enumerate(outcomes)
            if isinstance(o, LedgerError)
        ]
        _print_json(
            {
                "tenant": args.tenant,
                "data_stream_key": stream,
                "format": fmt,
                "created": created,
                "existing": existing,
                "failed": len(errors),
                "errors": errors,
            }
        )
        return 1 if errors else 0

    try:
        return asyncio.run(run())
    except LedgerError as e:
        sys.stderr.write(f"ledger: {e.message}\n")
        return 1


def add_records_commands(subparsers: Any) -> None:
    """Add ``records import`` to ``ledger``'s sub-command parsers (``build_parser``'s ``sub``)."""
    from ledger.importers import FORMATS

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
        "--format", choices=FORMATS, help="the file's format (default: detected from the file)"
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
        help="CSV only: decimals of the amounts (default 2)",
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
