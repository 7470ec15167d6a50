"""Ids in request paths.

A path id that cannot be an id names nothing: it is the same 404 as an unknown id
(``NOT_FOUND``, ``no such <resource>``, details ``{"<resource>_id": <the text>}``), never a
400, so a client cannot tell a malformed id from a deleted or foreign one.
"""

from __future__ import annotations

from uuid import UUID

from ledger import limits
from ledger.errors import NotFound


def not_found(text: str, resource: str) -> NotFound:
    """The 404 for ``text`` in the path naming no ``resource``."""
    return NotFound(f"no such {resource}", {f"{resource}_id": text})


def uuid_in_path(text: str, resource: str) -> UUID:
    """The uuid ``text`` (any form ``UUID()`` reads); a 404 if it is none."""
    try:
        return UUID(text)
    except ValueError:
        raise not_found(text, resource) from None


def serial_in_path(text: str, resource: str) -> int:
    """The positive integer id ``text`` (stored as int64: at most ``AMOUNT_MINOR_MAX``,
    the same bound); a 404 if it is none."""
    if (
        len(text) <= limits.INTEGER_TEXT_DIGITS_MAX
        and text.isascii()
        and text.isdigit()
        and 0 < int(text) <= limits.AMOUNT_MINOR_MAX
    ):
        return int(text)
    raise not_found(text, resource)
