"""Tenant lookups, including API key authentication."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from ledger.domain.tenants import parse_api_key, secret_sha256

# Compared against when the key id is unknown, so an unknown id costs the same hash and
# comparison as a known one.
_DUMMY_DIGEST = bytes(32)


@dataclass(frozen=True, slots=True)
class TenantView:
    tenant_id: UUID
    slug: str
    name: str
    base_currency: str


_SELECT_KEY = (
    "SELECT k.secret_sha256, k.revoked_at IS NOT NULL AS revoked,"
    " t.tenant_id, t.slug, t.name, t.base_currency"
    " FROM api_keys k JOIN tenants t USING (tenant_id) WHERE k.key_id = $1"
)


async def authenticate(pool: asyncpg.Pool[Any], presented: str) -> TenantView | None:
    """The tenant a presented API key belongs to, or None (unknown, malformed or revoked)."""
    parsed = parse_api_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = await pool.fetchrow(_SELECT_KEY, key_id)
    stored = bytes(row["secret_sha256"]) if row is not None else _DUMMY_DIGEST
    matches = hmac.compare_digest(stored, secret_sha256(secret))
    if row is None or not matches or row["revoked"]:
        return None
    return TenantView(row["tenant_id"], row["slug"], row["name"], row["base_currency"])


async def tenant_by_slug(pool: asyncpg.Pool[Any], slug: str) -> TenantView | None:
    row = await pool.fetchrow(
        "SELECT tenant_id, slug, name, base_currency FROM tenants WHERE slug = $1", slug
    )
    return TenantView(**dict(row)) if row is not None else None
