"""Authentication of ``/v1`` requests, and the ``services`` and ``tenant`` dependencies.

Contract (docs/api.md §1):

- Every route of the ``/v1`` router is behind :class:`AuthenticationMiddleware` (mounted on
  the router, outermost); a handler cannot forget it. The key comes from
  ``X-API-KEY: <key>`` or ``Authorization: Bearer <key>``. Missing, malformed, unknown or
  revoked → 401 ``UNAUTHENTICATED``; so is sending both headers with different keys
  (ambiguous: we will not guess which one the client meant).
- The lookup is ``ledger.queries.tenants.authenticate_key`` through the process's
  ``ApiKeyCache`` (``services.api_keys``): a key seen valid recently costs no query. The
  secret is still hashed and compared in constant time on every request.
- The middleware sets ``ACTING_KEY`` (``ledger.store.group_commit``) for the request, so
  every command the request submits is refused inside its batch if the key was revoked in
  the meantime: writes never depend on the cache's time to live.
- On success the middleware stores the ``TenantView`` and the key's id in the request's
  state; a handler receives them by declaring ``tenant: TenantDep`` (:func:`provide_tenant`)
  and ``api_key_id: ApiKeyIdDep`` (:func:`provide_api_key_id`: who acts, e.g. a journal's
  ``created_by`` on the seed-compatible endpoint).
- ``services: ServicesDep`` (:func:`provide_services`) is the process-wide ``Services`` on
  ``app.state.services``. Declare it with ``ServicesDep``, not ``NamedDependency[Services]``:
  Litestar validates dependency values with msgspec, which cannot introspect ``Services``
  (``asyncpg.Pool[Any]`` is not subscriptable at run time) and answers 500.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias
from uuid import UUID

from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.params import SkipValidation
from litestar.types import ASGIApp, Receive, Scope, Send

from ledger import limits
from ledger.bootstrap import Services
from ledger.errors import Unauthenticated
from ledger.queries.tenants import TenantView, authenticate_key
from ledger.store.group_commit import ACTING_KEY

# Handler parameter types: ``services: ServicesDep``, ``tenant: TenantDep``. Both values are
# built by us, not parsed from the request, so there is nothing to validate.
ServicesDep: TypeAlias = NamedDependency[SkipValidation[Services]]
TenantDep: TypeAlias = NamedDependency[SkipValidation[TenantView]]
ApiKeyIdDep: TypeAlias = NamedDependency[SkipValidation[UUID]]

TENANT_STATE_KEY: Final = "ledger_tenant"
API_KEY_ID_STATE_KEY: Final = "ledger_api_key_id"
# Longer than any key we issue; refusing early keeps a hostile header from being hashed.
API_KEY_LENGTH_MAX: Final = limits.API_KEY_LENGTH_MAX


def services_of(app: Litestar) -> Services:
    """The ``Services`` of a running app (set by ``create_app`` or its lifespan)."""
    services = app.state.get("services")
    assert isinstance(services, Services), "create_app sets app.state.services before serving"
    return services


def provide_services(request: Request[Any, Any, Any]) -> Services:
    return services_of(request.app)


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The API key the request presents, or None if it presents none.

    Raises:
        Unauthenticated: the two headers carry different keys.
    """
    header_key = connection.headers.get("x-api-key")
    bearer_key: str | None = None
    authorization = connection.headers.get("authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            bearer_key = credentials.strip()
    header_key = header_key.strip() if header_key is not None else None
    if header_key and bearer_key and header_key != bearer_key:
        raise Unauthenticated("X-API-KEY and Authorization carry different keys; send one")
    return header_key or bearer_key


async def authenticate_request(
    connection: ASGIConnection[Any, Any, Any, Any],
) -> tuple[UUID, TenantView]:
    """The request's API key id and its tenant; also sets ``ACTING_KEY`` for the current task.

    Raises:
        Unauthenticated: no key, or a malformed, unknown or revoked one (401).
    """
    key = presented_key(connection)
    if not key:
        raise Unauthenticated(
            "an API key is required: send X-API-KEY: <key> or Authorization: Bearer <key>"
        )
    found = None
    if len(key) <= API_KEY_LENGTH_MAX:
        services = services_of(connection.app)
        found = await authenticate_key(services.pool, key, services.api_keys)
    if found is None:
        # One message for unknown, malformed and revoked keys: which it was is no one's
        # business but the key owner's.
        raise Unauthenticated("the API key is not valid")
    key_id, tenant = found
    ACTING_KEY.set(key_id)
    return key_id, tenant


class AuthenticationMiddleware(ASGIMiddleware):
    """Authenticates every request of the router it is mounted on (see the module docstring).

    A middleware rather than a guard: it runs once, before the handler's parameters are
    resolved, and the ``ACTING_KEY`` it sets is visible to everything the request runs.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        token = ACTING_KEY.set(None)
        try:
            key_id, tenant = await authenticate_request(connection)
            state = scope.setdefault("state", {})
            state[TENANT_STATE_KEY] = tenant
            state[API_KEY_ID_STATE_KEY] = key_id
            await next_app(scope, receive, send)
        finally:
            ACTING_KEY.reset(token)


def provide_tenant(request: Request[Any, Any, Any]) -> TenantView:
    tenant = request.state.get(TENANT_STATE_KEY)
    assert isinstance(tenant, TenantView), "the /v1 middleware authenticates before any handler"
    return tenant


def provide_api_key_id(request: Request[Any, Any, Any]) -> UUID:
    """The id of the API key that authenticated the request (the key's public part)."""
    key_id = request.state.get(API_KEY_ID_STATE_KEY)
    assert isinstance(key_id, UUID), "the /v1 middleware authenticates before any handler"
    return key_id
