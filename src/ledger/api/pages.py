"""Pages: the one envelope every list answer has.

A page is ``{"data": [...], "next_cursor": ...}`` (a statement adds ``"prev_cursor"``), in
that key order, compact JSON. :func:`page_answer` is the only way a handler answers one: it
joins documents that are already encoded (stored journal and record documents, as they are)
around the envelope; :func:`encode_each` encodes Structs or plain values to such documents
first (msgspec's JSON, the bytes Litestar would send for them). The ``page`` type argument
only names the page's Struct in ``api.schemas`` or the route's module for the OpenAPI
document (``-> Encoded[JournalPageOut]``); it never encodes anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

from ledger.api.schemas import Document, Encoded

_encoder: Final = msgspec.json.Encoder()


def encoded_page(
    documents: Iterable[bytes],
    next_cursor: str | None,
    *,
    prev_cursor: str | UnsetType | None = UNSET,
) -> bytes:
    """The page envelope around encoded ``documents``; ``prev_cursor`` only when given."""
    tail = (
        b""
        if isinstance(prev_cursor, UnsetType)
        else b',"prev_cursor":' + _encoder.encode(prev_cursor)
    )
    return (
        b'{"data":['
        + b",".join(documents)
        + b'],"next_cursor":'
        + _encoder.encode(next_cursor)
        + tail
        + b"}"
    )


def encode_each(items: Iterable[object]) -> list[bytes]:
    """Each of ``items`` (Structs, or dicts of JSON values) as its JSON document."""
    return [_encoder.encode(item) for item in items]


def page_answer(
    page: type[Document],
    documents: Iterable[bytes],
    next_cursor: str | None,
    *,
    prev_cursor: str | UnsetType | None = UNSET,
) -> Encoded[Document]:
    """The 200 answer of a page of ``documents``, documented as ``page``."""
    del page  # it only types the answer, ``Encoded[page]``, as the handler declares it
    return Encoded(encoded_page(documents, next_cursor, prev_cursor=prev_cursor))
