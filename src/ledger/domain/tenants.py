"""Tenants and their API keys, event-sourced like everything else.

A tenant is created once and never deleted. An API key is its own aggregate (so a key can be
revoked by its id alone); only the SHA-256 of its secret is ever stored, in the event and in
the ``api_keys`` read table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger import limits


class Tenant(Aggregate):
    """A customer of the service: every other aggregate belongs to exactly one tenant."""

    @dataclass(frozen=True)
    class TenantCreated(Aggregate.Created):
        slug: str
        name: str
        base_currency: str

    def __init__(self, slug: str, name: str, base_currency: str) -> None:
        self.slug = slug
        self.name = name
        self.base_currency = base_currency

    @classmethod
    def create(cls, *, tenant_id: UUID, slug: str, name: str, base_currency: str) -> Tenant:
        return cls._create(
            cls.TenantCreated, id=tenant_id, slug=slug, name=name, base_currency=base_currency
        )


class ApiKey(Aggregate):
    """One API key of one tenant. The secret itself is never stored, only its hash."""

    @dataclass(frozen=True)
    class ApiKeyIssued(Aggregate.Created):
        tenant_id: UUID
        secret_sha256: str

    @dataclass(frozen=True)
    class ApiKeyRevoked(Aggregate.Event):
        tenant_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.revoked = True

    def __init__(self, tenant_id: UUID, secret_sha256: str) -> None:
        self.tenant_id = tenant_id
        self.secret_sha256 = secret_sha256
        self.revoked = False

    @classmethod
    def issue(cls, *, key_id: UUID, tenant_id: UUID, secret_sha256: str) -> ApiKey:
        return cls._create(
            cls.ApiKeyIssued, id=key_id, tenant_id=tenant_id, secret_sha256=secret_sha256
        )

    def revoke(self) -> None:
        assert not self.revoked, "revoke() on a revoked key: the command must check first"
        self.trigger_event(self.ApiKeyRevoked, tenant_id=self.tenant_id)


# API key text: "ldg_<key id, 32 hex>_<secret, 43 url-safe base64 chars>". The key id lets the
# server find the one row to compare with, so the secret's hash is compared in constant time
# against exactly one candidate (no lookup by secret, no timing signal from an index).
API_KEY_PREFIX = "ldg_"


def format_api_key(key_id: UUID, secret: str) -> str:
    return f"{API_KEY_PREFIX}{key_id.hex}_{secret}"


def parse_api_key(text: str) -> tuple[UUID, str] | None:
    """Split a presented key into (key id, secret), or None if it is not one of ours."""
    if not text.startswith(API_KEY_PREFIX) or len(text) > limits.API_KEY_TEXT_LENGTH_MAX:
        return None
    key_hex, sep, secret = text[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(key_hex) != 32 or not secret:
        return None
    try:
        return UUID(hex=key_hex), secret
    except ValueError:
        return None


def secret_sha256(secret: str) -> bytes:
    """The stored digest of a key's secret. Secrets carry 256 random bits, so one SHA-256
    round is enough (no password-style stretching is needed for non-guessable secrets)."""
    return hashlib.sha256(secret.encode()).digest()
