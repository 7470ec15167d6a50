"""Versioned SQL migrations, applied in order and recorded in ``ledger_migrations``.

Files are ``store/sql/NNNN_name.sql``. Applying is safe to repeat and safe from two
processes at once: a transaction-scoped advisory lock serialises appliers, and each file runs
in the same transaction as the row that records it, so a migration is applied entirely or
not at all. A recorded migration whose file changed since is an error (checksums), because
the database no longer matches what the code believes it is; the one exception is a checksum
listed in ``SUPERSEDED_CHECKSUMS``, an earlier text of the same migration with the same SQL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from ledger.store.database import DbConnection

_ADVISORY_LOCK_KEY = 0x1ED6E5  # any constant shared by every ledger process
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# Earlier checksums of a migration whose file was edited after release without changing what
# it does (comments only), by version. A database that recorded one of them ran the same SQL,
# so it is accepted as is; new databases record the file's current checksum. Never list the
# checksum of a text whose statements differed: that needs a new migration.
SUPERSEDED_CHECKSUMS: dict[int, tuple[str, ...]] = {
    # 0006_records: its first comment pointed at a document outside the repository; it now
    # names docs/api.md.
    6: ("3f9c791cb6c9946e01a3fda65c14e7a37de1c37b320f9d9317fcb22c11256c3d",),
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def is_applied_as(self, recorded_checksum: str) -> bool:
        """Whether a database that recorded ``recorded_checksum`` ran this migration's SQL:
        the file's checksum, or one of its ``SUPERSEDED_CHECKSUMS``."""
        superseded = SUPERSEDED_CHECKSUMS.get(self.version, ())
        return recorded_checksum == self.checksum or recorded_checksum in superseded


class MigrationError(RuntimeError):
    """The database's recorded migrations do not match the code's files."""


def load_migrations() -> list[Migration]:
    """Every migration file shipped with the package, ordered by version."""
    found: list[Migration] = []
    for entry in resources.files("ledger.store").joinpath("sql").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    assert len(set(versions)) == len(versions), f"duplicate migration versions: {versions}"
    return found


async def migrate(conn: DbConnection, *, upto: int | None = None) -> list[Migration]:
    """Apply every pending migration (with ``upto``: those up to that version, so that tests
    can build a database as an older release left it); return those applied by this call.

    Raises:
        MigrationError: a recorded migration's checksum is neither its file's nor one of
            its ``SUPERSEDED_CHECKSUMS``.
    """
    applied_now: list[Migration] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS ledger_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        recorded = {
            row["version"]: row["checksum"]
            for row in await conn.fetch("SELECT version, checksum FROM ledger_migrations")
        }
        for migration in load_migrations():
            if upto is not None and migration.version > upto:
                break
            if migration.version in recorded:
                if not migration.is_applied_as(recorded[migration.version]):
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed "
                        "after it was applied; add a new migration instead"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO ledger_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration)
    return applied_now
