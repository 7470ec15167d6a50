"""Authentication of ``/v1`` requests, and the ``services`` and ``tenant`` dependencies.

Contract (spec/API.md §1):

- Every route of the ``/v1`` router is guarded by :func:`require_tenant`; a handler cannot
  forget it. The key comes from ``X-API-KEY: <key>`` or ``Authorization: Bearer <key>``.
  Missing, malformed, unknown or revoked → 401 ``UNAUTHENTICATED``; so is sending both
  headers with different keys (ambiguous: we will not guess which one the client meant).
- The lookup is ``ledger.queries.tenants.authenticate``, which compares in constant time.
- On success the guard stores the ``TenantView`` on the connection; a handler receives it by
  declaring ``tenant: TenantDep`` (:func:`provide_tenant`).
- ``services: ServicesDep`` (:func:`provide_services`) is the process-wide ``Services`` on
  ``app.state.services``. Declare it with ``ServicesDep``, not ``NamedDependency[Services]``:
  Litestar validates dependency values with msgspec, which cannot introspect ``Services``
  (``asyncpg.Pool[Any]`` is not subscriptable at run time) and answers 500.
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import SkipValidation

from ledger.bootstrap import Services
from ledger.errors import Unauthenticated
from ledger.queries.tenants import TenantView, authenticate

# Handler parameter types: ``services: ServicesDep``, ``tenant: TenantDep``. Both values are
# built by us, not parsed from the request, so there is nothing to validate.
ServicesDep: TypeAlias = NamedDependency[SkipValidation[Services]]
TenantDep: TypeAlias = NamedDependency[SkipValidation[TenantView]]

TENANT_STATE_KEY: Final = "ledger_tenant"
# Longer than any key we issue; refusing early keeps a hostile header from being hashed.
API_KEY_LENGTH_MAX: Final = 512


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


async def require_tenant(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Guard: authenticate the request's API key and remember its tenant.

    Raises:
        Unauthenticated: no key, or a malformed, unknown or revoked one (401).
    """
    key = presented_key(connection)
    if not key:
        raise Unauthenticated(
            "an API key is required: send X-API-KEY: <key> or Authorization: Bearer <key>"
        )
    tenant = None
    if len(key) <= API_KEY_LENGTH_MAX:
        tenant = await authenticate(services_of(connection.app).pool, key)
    if tenant is None:
        # One message for unknown, malformed and revoked keys: which it was is no one's
        # business but the key owner's.
        raise Unauthenticated("the API key is not valid")
    connection.state[TENANT_STATE_KEY] = tenant


def provide_tenant(request: Request[Any, Any, Any]) -> TenantView:
    tenant = request.state.get(TENANT_STATE_KEY)
    assert isinstance(tenant, TenantView), "the /v1 guard authenticates before any handler runs"
    return tenant
