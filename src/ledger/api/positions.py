"""The ``Ledger-Position`` header of every ``/v1`` GET response (spec/API.md §1, Positions).

Contract: a GET under ``/v1`` answers with ``Ledger-Position: N``, N the event-store position
its data reflects at least. N is read *before* the handler runs, so it is a lower bound: the
data may be newer, never older. A 401 answer carries no position (the caller is nobody yet).

This module is the one place to change for read-your-writes (``min_position``): for now N is
simply the log's last committed position (:func:`current_position`); a later change makes it
the position the read models a handler reads have reached, and waits for ``min_position``.
"""

from __future__ import annotations

from typing import Final

from litestar.datastructures import ResponseHeader
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ledger.api.auth import services_of
from ledger.bootstrap import Services

LEDGER_POSITION_HEADER: Final = "Ledger-Position"

# For ``response_headers=[...]`` of every GET handler, so the header is in the OpenAPI schema.
LEDGER_POSITION_DOC: Final = ResponseHeader(
    name=LEDGER_POSITION_HEADER,
    documentation_only=True,
    # Only the type of ``value`` reaches the document (``schema: string``); it is never sent.
    value="0",
    example="42",
    required=True,
    description="The event-store position (a decimal integer) the response's data reflects.",
)


async def current_position(services: Services) -> int:
    """The position a read starting now reflects at least."""
    return await services.store.max_position()


class LedgerPositionMiddleware(ASGIMiddleware):
    """Adds ``Ledger-Position`` to GET responses; mounted on the ``/v1`` router.

    Middleware runs before guards, so the position is read before authentication too: an
    unauthenticated GET costs one indexed query. Accepted until the read-your-writes
    version, which needs the position before the handler anyway.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") != "GET":
            await next_app(scope, receive, send)
            return
        position = await current_position(services_of(scope["litestar_app"]))
        value = str(position).encode("ascii")

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] != 401:
                headers = [*message.get("headers", ()), (b"ledger-position", value)]
                message = {**message, "headers": headers}
            await send(message)

        await next_app(scope, receive, send_with_position)
