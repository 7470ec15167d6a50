"""Read-your-writes: ``min_position`` and ``Ledger-Position`` on every ``/v1`` GET.

Contract (docs/api.md §1, Positions):

- Every GET under ``/v1`` accepts ``min_position=N`` (a non-negative integer, else 400
  ``VALIDATION_ERROR`` naming ``min_position``) and answers only once the data it serves
  reflects at least position N: at once when it does already, else as soon as it does, and
  after :data:`~ledger.limits.MIN_POSITION_WAIT_SECONDS_MAX` seconds with 503
  ``UNAVAILABLE`` and ``Retry-After``.
- Every GET response under ``/v1`` except a 401 carries ``Ledger-Position: N``: the
  position the served data reflects at least, as the tenant may see it. Let P be the
  position the data reflects, taken *before* the handler reads (so the data may be newer,
  never older): N is the highest position of an event of the request's own tenant that is
  <= P (0 if none). The tenant's data at P is its data at N, and other tenants' write
  volume does not show in it (issue 12). ``min_position`` is still compared with P, so any
  position a tenant was given (its own, which are log positions) is waited for correctly.

What "the data reflects" depends on what a route reads. Inline projections are written in
the append's transaction, so they reflect the log's last committed position. A route that
reads an asynchronous projection declares it with ``opt=reads_projection(NAME)``; its data
reflects that projection's tracking position, which may trail the log.

No request polls for positions: they live in the process's
:class:`~ledger.projections.tracking.PositionTracker` (fed by the committer, the projection
runner and LISTEN/NOTIFY), and a waiting request sleeps on it until woken. The tracker also
knows each tenant's last position; only when it cannot say exactly (a tenant it has not
seen lately, or another process's write it has not read yet) does a request probe the
``(tenant_id, notification_id)`` index once.

A request that must wait is authenticated first (one extra key lookup, only then): a request
without a valid key is never held for seconds; it goes straight on to the guard's 401.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ledger import limits
from ledger.api.auth import API_KEY_LENGTH_MAX, TENANT_STATE_KEY, presented_key, services_of
from ledger.api.errors import ErrorBody
from ledger.errors import LedgerError, ValidationError
from ledger.queries.tenants import TenantView, authenticate_key

LEDGER_POSITION_HEADER: Final = "Ledger-Position"
MIN_POSITION_PARAMETER: Final = "min_position"
RETRY_AFTER_SECONDS: Final = limits.RETRY_AFTER_SECONDS_DEFAULT
# The route handler ``opt`` key naming the asynchronous projection a route reads.
READS_OPT: Final = "ledger_reads_projection"

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

MIN_POSITION_DESCRIPTION: Final = (
    "Answer only once the data served reflects at least this event-store position (the "
    "`position` a write returned): waits up to "
    f"{limits.MIN_POSITION_WAIT_SECONDS_MAX:g} s, then 503 `UNAVAILABLE` with `Retry-After`."
)


def reads_projection(name: str) -> dict[str, Any]:
    """``opt`` for a route whose data comes from asynchronous projection ``name``."""
    return {READS_OPT: name}


def parse_min_position(query_string: bytes) -> int | None:
    """The ``min_position`` of a query string (the last one if repeated), or None.

    Raises:
        ValidationError: it is not a decimal integer in 0 .. 2^63-1.
    """
    value: str | None = None
    for key, item in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == MIN_POSITION_PARAMETER:
            value = item
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or int(value) > limits.POSITION_MAX:
        raise ValidationError(
            "min_position must be a non-negative integer (an event-store position)",
            {"field": MIN_POSITION_PARAMETER, "source": "query", "value": value},
        )
    return int(value)


async def _presents_valid_key(scope: Scope) -> bool:
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    try:
        key = presented_key(connection)
    except LedgerError:
        return False
    if not key or len(key) > API_KEY_LENGTH_MAX:
        return False
    services = services_of(scope["litestar_app"])
    return await authenticate_key(services.pool, key, services.api_keys) is not None


async def _own_position(scope: Scope, reflected: int) -> int:
    """The authenticated tenant's highest event position <= ``reflected`` (the position the
    data reflects): what ``Ledger-Position`` tells a tenant. 0 without a tenant."""
    tenant = scope.get("state", {}).get(TENANT_STATE_KEY)
    if not isinstance(tenant, TenantView):
        return 0
    services = services_of(scope["litestar_app"])
    return await services.tracker.tenant_position(services.pool, tenant.tenant_id, reflected)


def _unavailable(min_position: int, position: int) -> list[Message]:
    body = msgspec.json.encode(
        ErrorBody(
            code="UNAVAILABLE",
            message=(
                f"the data does not reflect position {min_position} yet (it reflects "
                f"{position}); retry shortly"
            ),
            details={
                "min_position": min_position,
                "position": position,
                "retry_after_seconds": RETRY_AFTER_SECONDS,
            },
        )
    )
    return [
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii")),
                (b"ledger-position", str(position).encode("ascii")),
            ],
        },
        {"type": "http.response.body", "body": body, "more_body": False},
    ]


class LedgerPositionMiddleware(ASGIMiddleware):
    """Waits for ``min_position`` and adds ``Ledger-Position`` to GET responses; mounted on
    the ``/v1`` router (see the module docstring for the contract)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") != "GET":
            await next_app(scope, receive, send)
            return
        tracker = services_of(scope["litestar_app"]).tracker
        handler = scope.get("route_handler")
        source: str | None = handler.opt.get(READS_OPT) if handler is not None else None
        min_position = parse_min_position(scope.get("query_string", b""))
        if (
            min_position is not None
            and tracker.position(source) < min_position
            and await _presents_valid_key(scope)
        ):
            reached = await tracker.wait_for(
                source, min_position, limits.MIN_POSITION_WAIT_SECONDS_MAX
            )
            if reached is None:
                own = await _own_position(scope, tracker.position(source))
                for message in _unavailable(min_position, own):
                    await send(message)
                return
        value = str(await _own_position(scope, tracker.position(source))).encode("ascii")

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] != 401:
                headers = [*message.get("headers", ()), (b"ledger-position", value)]
                message = {**message, "headers": headers}
            await send(message)

        await next_app(scope, receive, send_with_position)
