"""Idempotency of the commands with a client key: a journal's ``external_id`` (or its
``Idempotency-Key`` header) and a record's ``external_id`` in its data stream.

A key is used once, forever. A retry with the key and the same request (the same
fingerprint) is answered with what the first use created; the key with another request is
a conflict. The fingerprint is stored with what the key created, so it must never change
for a request that was stored: each command chooses which of its fields it covers (its
canonical form), and this module hashes that one way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

import msgspec

from ledger.errors import LedgerError, ValidationError

T = TypeVar("T")


def request_fingerprint(canonical: object) -> bytes:
    """sha256 of ``canonical`` as compact JSON with sorted keys: what a retry must repeat."""
    return hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).digest()


def replay_or_conflict(
    seen: tuple[T, bytes] | None, fingerprint: bytes, conflict: Callable[[T], LedgerError]
) -> T | None:
    """What to answer again for a command with a client key: None when the key is new,
    else what it created first (``seen``: that and the fingerprint of its request).

    Raises:
        LedgerError: ``conflict(created)``, when the key was used with another request.
    """
    if seen is None:
        return None
    created, first = seen
    if first != fingerprint:
        raise conflict(created)
    return created


def client_key(header: str | None, body_key: str | None, name: str, field: str) -> str | None:
    """The request's one client key: ``body_key`` (the body's field ``name``, at JSON path
    ``field``) or the ``Idempotency-Key`` header; both may be sent only with the same value.

    Raises:
        ValidationError: both are sent and differ (400 naming ``field``).
    """
    if header is not None and body_key is not None and header != body_key:
        raise ValidationError(
            f"Idempotency-Key and {name} differ; send one, or the same value in both",
            {"field": field},
        )
    return body_key if body_key is not None else header
