"""The hash chain over ``ledger_events``, recomputed in Python from stored rows.

``ledger_append_events`` (migration 0001) stores, with every row, a SHA-256 ``chain_hash``
over the previous row's hash and the row's own columns. This module recomputes it
independently of that SQL function, so an audit can tell exactly which row was changed
after it was written: the first row whose stored hash is not the hash of the previous stored
hash and its own columns.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import Protocol
from uuid import UUID

GENESIS_HASH = bytes(32)
_NO_TENANT = bytes(16)


class ChainedRow(Protocol):
    """The columns of one ``ledger_events`` row that the chain covers."""

    @property
    def position(self) -> int: ...
    @property
    def originator_id(self) -> UUID: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def tenant_id(self) -> UUID | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


class StoredChainRow(ChainedRow, Protocol):
    """A chained row together with the hash stored beside it."""

    @property
    def chain_hash(self) -> bytes: ...


def chain_link(prev: bytes, row: ChainedRow) -> bytes:
    """``chain_hash`` of ``row`` given the previous row's (``GENESIS_HASH`` for the first).

    sha256(prev || int8 position || originator_id (16 bytes) || int8 version
    || tenant_id (16 bytes, zeros when none) || int4 len(topic UTF-8) || topic UTF-8 || state),
    integers big-endian as PostgreSQL's ``int8send``/``int4send`` write them.
    """
    assert len(prev) == 32
    topic = row.topic.encode("utf-8")
    tenant = row.tenant_id.bytes if row.tenant_id is not None else _NO_TENANT
    return hashlib.sha256(
        prev
        + struct.pack(">q", row.position)
        + row.originator_id.bytes
        + struct.pack(">q", row.originator_version)
        + tenant
        + struct.pack(">i", len(topic))
        + topic
        + row.state
    ).digest()


def recompute_chain(rows: Iterable[ChainedRow], prev: bytes = GENESIS_HASH) -> list[bytes]:
    """The chain hashes of ``rows`` (in position order), each from the recomputed previous."""
    hashes: list[bytes] = []
    for row in rows:
        prev = chain_link(prev, row)
        hashes.append(prev)
    return hashes


def broken_links(rows: Sequence[StoredChainRow], prev: bytes = GENESIS_HASH) -> list[int]:
    """Positions whose stored ``chain_hash`` is not the hash of the previous stored hash and
    the row's own columns: exactly the rows that were changed after they were written.

    ``prev`` is the stored hash of the row before ``rows[0]`` (so a long log can be checked
    page by page in constant memory).
    """
    broken: list[int] = []
    for row in rows:
        if chain_link(prev, row) != row.chain_hash:
            broken.append(row.position)
        prev = row.chain_hash
    return broken
