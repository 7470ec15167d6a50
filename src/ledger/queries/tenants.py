"""Tenant lookups, including API key authentication."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from ledger import limits
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
    found = await authenticate_key(pool, presented)
    return found[1] if found is not None else None


async def authenticate_key(
    pool: asyncpg.Pool[Any], presented: str, cache: ApiKeyCache | None = None
) -> tuple[UUID, TenantView] | None:
    """The key id and tenant of a presented API key, or None (unknown, malformed or revoked).

    With ``cache``: a key found valid within the cache's time to live is not read again
    (the secret is still hashed and compared, in constant time, on every call). Unknown and
    revoked keys are never cached, so a hostile client cannot fill the cache.
    """
    parsed = parse_api_key(presented)
    if parsed is None:
        return None
    key_id, secret = parsed
    digest = secret_sha256(secret)
    if cache is not None:
        hit = cache.get(key_id)
        if hit is not None:
            stored_digest, tenant = hit
            return (key_id, tenant) if hmac.compare_digest(stored_digest, digest) else None
    row = await pool.fetchrow(_SELECT_KEY, key_id)
    stored = bytes(row["secret_sha256"]) if row is not None else _DUMMY_DIGEST
    matches = hmac.compare_digest(stored, digest)
    if row is None or not matches or row["revoked"]:
        return None
    tenant = TenantView(row["tenant_id"], row["slug"], row["name"], row["base_currency"])
    if cache is not None:
        cache.put(key_id, stored, tenant)
    return key_id, tenant


class ApiKeyCache:
    """Valid API keys of this process: key id → (secret digest, tenant), least recently used
    evicted beyond ``size_max``, each entry trusted for ``ttl_seconds`` after it was read.

    Authentication alone never depends on the entry being fresh for writes: the group
    commit re-reads the revocation of every key of a batch inside the batch's transaction
    (``ledger.store.group_commit``). A key revoked through this process is evicted at once
    (:meth:`evict`); one revoked elsewhere can still read for at most ``ttl_seconds``.
    """

    def __init__(
        self,
        *,
        size_max: int = limits.API_KEY_CACHE_SIZE_MAX,
        ttl_seconds: float = limits.API_KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert size_max >= 1
        assert ttl_seconds >= 0
        self.size_max = size_max
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[UUID, tuple[float, bytes, TenantView]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_id: UUID) -> tuple[bytes, TenantView] | None:
        """The cached (digest, tenant) of ``key_id``, or None (absent or expired)."""
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[key_id]
            return None
        self._entries.move_to_end(key_id)
        return entry[1], entry[2]

    def put(self, key_id: UUID, digest: bytes, tenant: TenantView) -> None:
        self._entries[key_id] = (self._clock() + self.ttl_seconds, digest, tenant)
        self._entries.move_to_end(key_id)
        while len(self._entries) > self.size_max:
            self._entries.popitem(last=False)

    def evict(self, key_ids: Collection[UUID]) -> None:
        """Forget ``key_ids`` (revoked): the next request with one of them reads the table."""
        for key_id in key_ids:
            self._entries.pop(key_id, None)


async def tenant_by_slug(pool: asyncpg.Pool[Any], slug: str) -> TenantView | None:
    row = await pool.fetchrow(
        "SELECT tenant_id, slug, name, base_currency FROM tenants WHERE slug = $1", slug
    )
    return TenantView(**dict(row)) if row is not None else None
