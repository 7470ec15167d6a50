"""Opaque list cursors and page limits (docs/api.md §1 "Lists").

A cursor is the sort key of the last row of a page, JSON-encoded and base64url'd: opaque to
clients, stable across inserts (keyset pagination, never OFFSET), and checked on decode so a
tampered or foreign cursor is a 400, not a 500.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from ledger import limits
from ledger.errors import ValidationError


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key a cursor carries, or None for the first page.

    Raises:
        ValidationError: the cursor was not made by :func:`encode_cursor`.
    """
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=list[Any])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ValidationError("the cursor is not valid", {"field": "cursor"}) from None
    return key


def page_limit(limit: int | None) -> int:
    """The page size to use.

    Raises:
        ValidationError: ``limit`` is outside 1 .. PAGE_SIZE_MAX.
    """
    if limit is None:
        return limits.PAGE_SIZE_DEFAULT
    if not 1 <= limit <= limits.PAGE_SIZE_MAX:
        raise ValidationError(
            f"limit must be between 1 and {limits.PAGE_SIZE_MAX}",
            {"field": "limit", "value": limit},
        )
    return limit
