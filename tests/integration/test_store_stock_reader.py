"""The stock (synchronous, psycopg) eventsourcing ``Application`` reads what we write.

It is configured only by environment: the Postgres persistence module, our table layout
(application name "Ledger" -> table ``ledger_events``) and our ``MsgspecMapper``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from ledger.bootstrap import Services
from ledger.domain.tenants import ApiKey, Tenant


class LedgerReader(Application[UUID]):
    name = "Ledger"


def stock_env(database_url: str) -> dict[str, str]:
    """eventsourcing's Postgres settings for ``database_url`` (TCP or Unix-socket URL)."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    # The embedded server's URL is postgresql://postgres:@/dbname?host=/socket/dir: psycopg
    # takes the socket directory as the host.
    host = query["host"][0] if "host" in query else (parts.hostname or "localhost")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "MAPPER_TOPIC": "ledger.store.mapper:MsgspecMapper",
        "CREATE_TABLE": "n",
        "POSTGRES_POOL_SIZE": "2",
    }


def _read_with_stock_application(
    env: dict[str, str], tenant_id: UUID, key_id: UUID
) -> tuple[object, object, list[Notification], list[type[Any]]]:
    app = LedgerReader(env=env)
    try:
        tenant: object = app.repository.get(tenant_id)
        key: object = app.repository.get(key_id)
        notifications = list(app.notification_log.select(start=1, limit=10))
        event_types = [type(app.mapper.to_domain_event(n)) for n in notifications]
        return tenant, key, notifications, event_types
    finally:
        app.close()


async def test_stock_application_reads_aggregates_and_notifications(
    services: Services, database_url: str
) -> None:
    new_key, position = await services.tenants.create_tenant("acme", "USD", name="Acme Ltd")
    revoked = await services.tenants.revoke_key(new_key.key_id)
    assert not revoked.already_revoked
    tenant_id = revoked.tenant_id

    tenant, key, notifications, event_types = await asyncio.to_thread(
        _read_with_stock_application, stock_env(database_url), tenant_id, new_key.key_id
    )

    assert isinstance(tenant, Tenant)
    assert tenant.id == tenant_id
    assert tenant.slug == "acme"
    assert tenant.name == "Acme Ltd"
    assert tenant.base_currency == "USD"
    assert tenant.version == 1
    assert isinstance(key, ApiKey)
    assert key.tenant_id == tenant_id
    assert key.revoked is True
    assert key.version == 2
    assert [n.id for n in notifications] == [1, 2, 3]
    assert position == 2
    assert [(n.originator_id, n.originator_version) for n in notifications] == [
        (tenant_id, 1),
        (new_key.key_id, 1),
        (new_key.key_id, 2),
    ]
    assert [n.topic for n in notifications] == [
        "ledger.domain.tenants:Tenant.TenantCreated",
        "ledger.domain.tenants:ApiKey.ApiKeyIssued",
        "ledger.domain.tenants:ApiKey.ApiKeyRevoked",
    ]
    assert event_types == [Tenant.TenantCreated, ApiKey.ApiKeyIssued, ApiKey.ApiKeyRevoked]
