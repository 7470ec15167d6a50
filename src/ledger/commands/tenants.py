"""Tenant and API key commands (the CLI of docs/api.md §2 calls these).

Each handler checks its commands inside the group-commit batch against the ``tenants`` and
``api_keys`` rows, locked ``FOR UPDATE`` where a decision reads them.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from ledger import limits
from ledger.domain.currencies import ISO_PRECISION
from ledger.domain.tenants import ApiKey, Tenant, format_api_key, secret_sha256
from ledger.errors import Conflict, NotFound, ValidationError
from ledger.store.group_commit import (
    Batch,
    BatchKey,
    CommandHandler,
    Committed,
    Decision,
    GroupCommitter,
)

_SLUG = re.compile(limits.TENANT_SLUG_PATTERN)

# Batch state keys: the slugs taken, {slug: tenant_id} of the tenants named, and the API key
# rows (locked) by key id, as loaded and changed by the batch's decisions so far.
_TAKEN_SLUGS: Final[BatchKey[set[str]]] = BatchKey("ledger.commands.tenants.taken-slugs", set)
_TENANT_IDS: Final[BatchKey[dict[str, UUID]]] = BatchKey("ledger.commands.tenants.tenant-ids", dict)
_API_KEYS: Final[BatchKey[dict[UUID, dict[str, Any]]]] = BatchKey(
    "ledger.commands.tenants.api-keys", dict
)


class TenantExists(Conflict):
    code = "TENANT_EXISTS"


@dataclass(frozen=True, kw_only=True)
class CreateTenant:
    slug: str
    name: str
    base_currency: str
    tenant_id: UUID = field(default_factory=uuid.uuid4)
    key_id: UUID = field(default_factory=uuid.uuid4)
    key_secret_sha256: bytes


@dataclass(frozen=True, kw_only=True)
class IssueApiKey:
    slug: str
    key_id: UUID = field(default_factory=uuid.uuid4)
    key_secret_sha256: bytes


@dataclass(frozen=True, kw_only=True)
class RevokeApiKey:
    key_id: UUID


@dataclass(frozen=True, kw_only=True)
class IssuedKey:
    tenant: str
    tenant_id: UUID
    key_id: UUID


def _validate_tenant(command: CreateTenant) -> None:
    if not _SLUG.match(command.slug):
        raise ValidationError(
            "a tenant slug is 1 to 63 lowercase letters, digits and inner hyphens",
            {"field": "slug", "value": command.slug},
        )
    if not 0 < len(command.name) <= limits.TENANT_NAME_LENGTH_MAX:
        raise ValidationError(
            f"a tenant name is 1 to {limits.TENANT_NAME_LENGTH_MAX} characters",
            {"field": "name"},
        )
    if command.base_currency not in ISO_PRECISION:
        raise ValidationError(
            f"{command.base_currency!r} is not an ISO 4217 currency code",
            {"field": "base_currency", "value": command.base_currency},
        )


class CreateTenantHandler(CommandHandler[CreateTenant, IssuedKey]):
    """Creates a tenant and its first API key.

    Raises:
        ValidationError: bad slug, name or base currency.
        TenantExists: the slug is taken (409).
    """

    async def load(self, batch: Batch, commands: Sequence[CreateTenant]) -> None:
        rows = await batch.conn.fetch(
            "SELECT slug FROM tenants WHERE slug = ANY($1::text[])", [c.slug for c in commands]
        )
        batch.state(_TAKEN_SLUGS).update(r["slug"] for r in rows)

    def decide(self, batch: Batch, command: CreateTenant) -> Decision[IssuedKey]:
        _validate_tenant(command)
        taken = batch.state(_TAKEN_SLUGS)
        if command.slug in taken:
            raise TenantExists(
                f"a tenant with slug {command.slug!r} exists already", {"slug": command.slug}
            )
        tenant = Tenant.create(
            tenant_id=command.tenant_id,
            slug=command.slug,
            name=command.name,
            base_currency=command.base_currency,
        )
        key = ApiKey.issue(
            key_id=command.key_id,
            tenant_id=command.tenant_id,
            secret_sha256=command.key_secret_sha256.hex(),
        )
        taken.add(command.slug)
        return Decision(
            events=[*tenant.collect_events(), *key.collect_events()],
            result=IssuedKey(
                tenant=command.slug, tenant_id=command.tenant_id, key_id=command.key_id
            ),
            tenant_id=command.tenant_id,
        )


class IssueApiKeyHandler(CommandHandler[IssueApiKey, IssuedKey]):
    """Issues another API key for an existing tenant.

    Raises:
        NotFound: no tenant has that slug.
    """

    async def load(self, batch: Batch, commands: Sequence[IssueApiKey]) -> None:
        rows = await batch.conn.fetch(
            "SELECT slug, tenant_id FROM tenants WHERE slug = ANY($1::text[])",
            [c.slug for c in commands],
        )
        batch.state(_TENANT_IDS).update({r["slug"]: r["tenant_id"] for r in rows})

    def decide(self, batch: Batch, command: IssueApiKey) -> Decision[IssuedKey]:
        tenant_ids = batch.state(_TENANT_IDS)
        tenant_id = tenant_ids.get(command.slug)
        if tenant_id is None:
            raise NotFound(f"no tenant has the slug {command.slug!r}", {"slug": command.slug})
        key = ApiKey.issue(
            key_id=command.key_id,
            tenant_id=tenant_id,
            secret_sha256=command.key_secret_sha256.hex(),
        )
        return Decision(
            events=key.collect_events(),
            result=IssuedKey(tenant=command.slug, tenant_id=tenant_id, key_id=command.key_id),
            tenant_id=tenant_id,
        )


@dataclass(frozen=True, kw_only=True)
class RevokedKey:
    key_id: UUID
    tenant_id: UUID
    already_revoked: bool


class RevokeApiKeyHandler(CommandHandler[RevokeApiKey, RevokedKey]):
    """Revokes a key; from the commit on, it authenticates nothing. Revoking twice is a no-op.

    Raises:
        NotFound: no key has that id.
    """

    async def load(self, batch: Batch, commands: Sequence[RevokeApiKey]) -> None:
        rows = await batch.conn.fetch(
            "SELECT key_id, tenant_id, secret_sha256, version, revoked_at IS NOT NULL AS revoked "
            "FROM api_keys WHERE key_id = ANY($1::uuid[]) FOR UPDATE",
            [c.key_id for c in commands],
        )
        state = batch.state(_API_KEYS)
        state.update({r["key_id"]: dict(r) for r in rows})

    def decide(self, batch: Batch, command: RevokeApiKey) -> Decision[RevokedKey]:
        state = batch.state(_API_KEYS)
        row = state.get(command.key_id)
        if row is None:
            raise NotFound(
                f"no API key has the id {command.key_id}", {"key_id": str(command.key_id)}
            )
        result = RevokedKey(
            key_id=command.key_id, tenant_id=row["tenant_id"], already_revoked=row["revoked"]
        )
        if row["revoked"]:
            return Decision(events=[], result=result, tenant_id=row["tenant_id"])
        event = ApiKey.ApiKeyRevoked(
            originator_id=command.key_id,
            originator_version=row["version"] + 1,
            timestamp=ApiKey.ApiKeyRevoked.create_timestamp(),
            tenant_id=row["tenant_id"],
        )
        row["revoked"] = True
        row["version"] += 1
        return Decision(events=[event], result=result, tenant_id=row["tenant_id"])


@dataclass(frozen=True, kw_only=True)
class NewKey:
    """A key as shown once to its owner: the plaintext is never stored."""

    tenant: str
    key_id: UUID
    api_key: str


def _new_secret() -> tuple[str, bytes]:
    secret = secrets.token_urlsafe(limits.API_KEY_SECRET_BYTES)
    return secret, secret_sha256(secret)


class TenantCommands:
    """The tenant and key use cases, bound to one group committer."""

    def __init__(
        self,
        committer: GroupCommitter,
        *,
        on_revoked: Callable[[set[UUID]], None] | None = None,
    ) -> None:
        """``on_revoked`` learns each key revoked here once it is committed (cache eviction)."""
        self._committer = committer
        self._on_revoked = on_revoked
        self._create = CreateTenantHandler()
        self._issue = IssueApiKeyHandler()
        self._revoke = RevokeApiKeyHandler()

    async def create_tenant(
        self, slug: str, base_currency: str, name: str | None = None
    ) -> tuple[NewKey, int]:
        """Create a tenant with a first key; return the key (shown once) and the position."""
        secret, digest = _new_secret()
        command = CreateTenant(
            slug=slug, name=name or slug, base_currency=base_currency, key_secret_sha256=digest
        )
        committed: Committed[IssuedKey] = await self._committer.submit(self._create, command)
        issued = committed.result
        assert committed.position is not None
        return NewKey(
            tenant=slug, key_id=issued.key_id, api_key=format_api_key(issued.key_id, secret)
        ), committed.position

    async def create_key(self, slug: str) -> tuple[NewKey, int]:
        secret, digest = _new_secret()
        committed = await self._committer.submit(
            self._issue, IssueApiKey(slug=slug, key_secret_sha256=digest)
        )
        assert committed.position is not None
        key_id = committed.result.key_id
        return NewKey(
            tenant=slug, key_id=key_id, api_key=format_api_key(key_id, secret)
        ), committed.position

    async def revoke_key(self, key_id: UUID) -> RevokedKey:
        committed = await self._committer.submit(self._revoke, RevokeApiKey(key_id=key_id))
        if self._on_revoked is not None:
            self._on_revoked({key_id})
        return committed.result
