"""The stock (synchronous, psycopg) eventsourcing ``Application`` reads what we write.

It is configured only by environment: the Postgres persistence module, our table layout
(application name "Ledger" -> table ``ledger_events``) and our ``MsgspecMapper``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.audit.verify import LedgerApplication, stock_env
from ledger.bootstrap import Services
from ledger.domain.tenants import ApiKey, Tenant

# The test reads through the same stock application and settings the audit uses.
LedgerReader = LedgerApplication


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
