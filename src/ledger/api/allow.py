"""``OPTIONS`` lists every method of its path in ``Allow``, as a 405 on that path does.

Litestar makes a path's ``OPTIONS`` handler when the first route handler of that path is
registered, and that handler keeps answering with the methods known then: a path whose
methods come from several handlers (``GET`` and ``POST /v1/currencies``) answered
``Allow: GET, OPTIONS``, without ``POST`` (schemathesis' ``allow_header_conformance``, issue 12).
``AllowEveryMethodMiddleware`` replaces that header with the methods of the path's route as
the app finally built it (``path_methods`` says which).
"""

from __future__ import annotations

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send


def path_methods(app: Litestar, path_template: str) -> str | None:
    """The ``Allow`` value of the route at ``path_template`` (sorted), or None if none is.

    The methods of its documented handlers and ``OPTIONS``; all of its methods when none is
    documented (``/schema``). An undocumented handler beside documented ones only answers as
    another route would (``GET /v1/ledgers/journals`` is the 404 of a ledger id
    ``journals``), so its method is not one the resource supports.
    """
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == path_template:
            documented = {
                method
                for handler in route.route_handlers
                if handler.resolve_include_in_schema()
                for method in handler.http_methods
            }
            return ", ".join(sorted((documented or set(route.methods)) | {"OPTIONS"}))
    return None


class AllowEveryMethodMiddleware(ASGIMiddleware):
    """On an ``OPTIONS`` answer, ``Allow`` names every method its path has."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        allow = None
        if scope.get("method") == "OPTIONS":
            allow = path_methods(scope["litestar_app"], scope.get("path_template", ""))
        if allow is None:
            await next_app(scope, receive, send)
            return
        value = allow.encode("latin-1")

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", value)]}
            await send(message)

        await next_app(scope, receive, send_with_allow)
