"""A TCP proxy in front of the test PostgreSQL that can cut a connection at its COMMIT.

The only way to lose a connection *while COMMIT is in flight* on a real server at a
point the test chooses: the proxy forwards bytes both ways untouched until it is armed;
then, at the next ``COMMIT`` a client sends (asyncpg sends ``Q "COMMIT;"`` in the simple
query protocol), it either

- drops the COMMIT and closes both sides (``deliver=False``): the server rolls the
  transaction back, the client never learns it; or
- forwards the COMMIT, waits for the server's answer, and closes both sides without
  passing it on (``deliver=True``): the transaction is committed, the client never
  learns it.

Use a URL with ``sslmode=disable`` (:meth:`PgProxy.url`): the proxy reads the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

# ``Q``, int32 length (itself + the text), ``COMMIT;`` NUL: what ``Transaction.commit`` sends.
COMMIT_MESSAGE = b"Q\x00\x00\x00\x0cCOMMIT;\x00"
_CHUNK = 65536


@dataclass
class _Armed:
    deliver: bool
    cut: asyncio.Event = field(default_factory=asyncio.Event)


class PgProxy:
    """Proxies ``server_url``'s server on 127.0.0.1:<ephemeral port>."""

    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        parts = urlsplit(server_url)
        query = parse_qs(parts.query)
        port = parts.port or 5432
        host_dir = query.get("host", [""])[0]
        # An embedded server listens on a Unix socket named in ``?host=<dir>``.
        self._unix_path = os.path.join(host_dir, f".s.PGSQL.{port}") if host_dir else None
        self._target = (parts.hostname or "127.0.0.1", port)
        self._server: asyncio.Server | None = None
        self._armed: _Armed | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, database_url: str) -> str:
        """``database_url`` (on the proxied server) through the proxy, without TLS."""
        parts = urlsplit(database_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "host"}
        query["sslmode"] = "disable"
        user = parts.username or "postgres"
        auth = f"{user}:{parts.password}@" if parts.password else f"{user}@"
        return urlunsplit(
            parts._replace(netloc=f"{auth}127.0.0.1:{self.port}", query=urlencode(query))
        )

    def arm(self, *, deliver: bool) -> asyncio.Event:
        """Cut the next connection that sends COMMIT (see the module docstring); the event
        is set once it is cut."""
        self._armed = _Armed(deliver)
        return self._armed.cut

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._unix_path is not None:
            return await asyncio.open_unix_connection(self._unix_path)
        return await asyncio.open_connection(*self._target)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await self._connect()
        self._writers |= {client_w, server_w}
        reply_cut: list[_Armed] = []  # set when a delivered COMMIT's answer is to be dropped

        def close() -> None:
            client_w.close()
            server_w.close()

        async def upstream() -> None:
            while data := await client_r.read(_CHUNK):
                armed = self._armed
                if armed is not None and COMMIT_MESSAGE in data:
                    self._armed = None
                    if not armed.deliver:
                        close()
                        armed.cut.set()
                        return
                    reply_cut.append(armed)
                server_w.write(data)
                await server_w.drain()
            close()

        async def downstream() -> None:
            while data := await server_r.read(_CHUNK):
                if reply_cut:
                    close()
                    reply_cut[0].cut.set()
                    return
                client_w.write(data)
                await client_w.drain()
            close()

        async def guarded(pump: Coroutine[None, None, None]) -> None:
            # A side closed under a pump (the cut, or the test's teardown) ends it.
            try:
                await pump
            except OSError:
                pass
            finally:
                close()

        for pump in (upstream(), downstream()):
            task = asyncio.ensure_future(guarded(pump))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
