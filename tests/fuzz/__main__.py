"""``python -m tests.fuzz``: run the schemathesis scenario standalone; exit 1 on any failure.

Against a running service::

    python -m tests.fuzz --base-url http://127.0.0.1:8000 --api-key KEY [--cases 10000]

Or let it start one: ``--database-url postgresql://...`` (an existing database, migrated here)
creates a tenant with ``ledger tenant create``, starts ``ledger serve`` on a free port, runs
the scenario and stops the server.
"""

from __future__ import annotations

import argparse
import sys

from tests.fuzz.scenario import DEFAULT_CASES, run_fuzz
from tests.fuzz.serve import served


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--base-url", help="a running service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="a key of a tenant the run may write to")
    parser.add_argument("--database-url", help="start `ledger serve` on this database instead")
    parser.add_argument(
        "--cases",
        type=int,
        default=DEFAULT_CASES,
        help="at least this many random cases (default 2000)",
    )
    parser.add_argument(
        "--no-coverage",
        action="store_true",
        help="skip schemathesis' coverage phase (about 3,000 fixed cases before the random ones)",
    )
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, flush=True)

    if args.database_url:
        with served(args.database_url) as (base_url, api_key):
            report = run_fuzz(
                base_url,
                api_key,
                cases=args.cases,
                coverage=not args.no_coverage,
                seed=args.seed,
                progress=progress,
            )
    elif args.base_url and args.api_key:
        report = run_fuzz(
            args.base_url,
            args.api_key,
            cases=args.cases,
            coverage=not args.no_coverage,
            seed=args.seed,
            progress=progress,
        )
    else:
        parser.error("give --base-url and --api-key, or --database-url")
    print(report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
