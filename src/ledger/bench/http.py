"""A small HTTP/1.1 keep-alive client for the benchmark's own requests.

The benchmark measures servers in other processes over real sockets, so it needs a client
with no hidden costs: one connection, one request at a time, ``Content-Length`` bodies only
(every answer of the service and of the minimal app has one). It is not a general client:
no TLS, no redirects, no chunked bodies (an answer without ``Content-Length`` is an error).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Final

CONNECT_TIMEOUT_SECONDS: Final = 5.0
# A bulk request of 1,000 journals can take seconds on a busy machine; a read never should.
RESPONSE_TIMEOUT_SECONDS: Final = 120.0
HEADER_LINES_MAX: Final = 100


class HttpError(RuntimeError):
    """The server broke the protocol, closed the connection, or answered an unexpected status."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


class HttpConnection:
    """One keep-alive connection to ``host:port``; ``request`` calls must not overlap."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host.encode()

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        """Connect.

        Raises:
            OSError, TimeoutError: nothing listens there.
        """
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT_SECONDS
        )
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: bytes = b"",
    ) -> Answer:
        """Send one request and read its answer.

        ``headers`` are ready-made header lines (each ending in CRLF), e.g. the API key.

        Raises:
            HttpError: a malformed answer, or the connection closed.
            TimeoutError: no answer within :data:`RESPONSE_TIMEOUT_SECONDS`.
        """
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode(), path.encode(), self._host)
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self._writer.write(head + headers + b"\r\n" + (body or b""))
        await self._writer.drain()
        return await asyncio.wait_for(self._read_answer(), RESPONSE_TIMEOUT_SECONDS)

    async def _read_answer(self) -> Answer:
        try:
            status_line = await self._reader.readline()
            parts = status_line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise HttpError(f"not an HTTP status line: {status_line[:100]!r}")
            headers: dict[str, str] = {}
            for _ in range(HEADER_LINES_MAX):
                line = await self._reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            else:
                raise HttpError(f"more than {HEADER_LINES_MAX} header lines")
            if "content-length" not in headers:
                raise HttpError(f"an answer without Content-Length: {headers}")
            body = await self._reader.readexactly(int(headers["content-length"]))
        except asyncio.IncompleteReadError as error:
            raise HttpError("the server closed the connection mid-answer") from error
        return Answer(int(parts[1]), headers, body)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def api_key_header(api_key: str) -> bytes:
    """The header line that authenticates a request to the service (and the minimal app)."""
    return b"X-API-KEY: %s\r\n" % api_key.encode()


def expect(answer: Answer, status: int, what: str) -> bytes:
    """``answer``'s body if its status is ``status``.

    Raises:
        HttpError: another status (the message quotes the start of the body).
    """
    if answer.status != status:
        raise HttpError(f"{what}: HTTP {answer.status} (expected {status}): {answer.body[:300]!r}")
    return answer.body
