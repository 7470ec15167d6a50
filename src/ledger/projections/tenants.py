"""The ``tenants`` and ``api_keys`` read tables (authentication reads them, through each
server process's key cache).

Written inline, in the append's transaction, so a key works the moment ``ledger key create``
returns, and no write is accepted with it once ``ledger key revoke`` returns (every group
commit batch re-reads its keys' revocation); a server process that had it cached may still
answer reads with it for ``limits.API_KEY_CACHE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.utils import get_topic

from ledger.domain.tenants import ApiKey, Tenant
from ledger.store.database import DbConnection
from ledger.store.group_commit import InlineProjection, PositionedEvent


class TenantsProjection(InlineProjection):
    name = "tenants"
    tables = ("tenants", "api_keys")
    # What ``apply`` folds: a rebuild reads only these rows of the log.
    topics: frozenset[str] = frozenset(
        map(get_topic, (Tenant.TenantCreated, ApiKey.ApiKeyIssued, ApiKey.ApiKeyRevoked))
    )

    async def apply(self, conn: DbConnection, events: Sequence[PositionedEvent]) -> None:
        for positioned in events:
            event = positioned.event
            if isinstance(event, Tenant.TenantCreated):
                await conn.execute(
                    "INSERT INTO tenants"
                    " (tenant_id, slug, name, base_currency, created_at, position)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    event.originator_id,
                    event.slug,
                    event.name,
                    event.base_currency,
                    event.timestamp,
                    positioned.position,
                )
            elif isinstance(event, ApiKey.ApiKeyIssued):
                await conn.execute(
                    "INSERT INTO api_keys (key_id, tenant_id, secret_sha256, version, issued_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    event.originator_id,
                    event.tenant_id,
                    bytes.fromhex(event.secret_sha256),
                    event.originator_version,
                    event.timestamp,
                )
            elif isinstance(event, ApiKey.ApiKeyRevoked):
                await conn.execute(
                    "UPDATE api_keys SET revoked_at = $2, version = $3 WHERE key_id = $1",
                    event.originator_id,
                    event.timestamp,
                    event.originator_version,
                )
