"""The client-key rule every command with one shares (ledger.domain.idempotency)."""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec
import pytest

from ledger.domain.idempotency import replay_or_conflict, request_fingerprint
from ledger.errors import IdempotencyConflict


def conflict(created: str) -> IdempotencyConflict:
    return IdempotencyConflict("used", {"created": created})


def test_a_new_key_replays_nothing() -> None:
    assert replay_or_conflict(None, b"x", conflict) is None


def test_the_same_request_replays_what_the_key_created() -> None:
    assert replay_or_conflict(("j-1", b"x"), b"x", conflict) == "j-1"


def test_another_request_conflicts_with_what_the_key_created() -> None:
    with pytest.raises(IdempotencyConflict) as caught:
        replay_or_conflict(("j-1", b"x"), b"y", conflict)
    assert caught.value.details == {"created": "j-1"}


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    one = request_fingerprint({"a": 1, "b": [1, 2]})
    assert one == request_fingerprint({"b": [1, 2], "a": 1})
    assert one != request_fingerprint({"a": 1, "b": [2, 1]})


def test_the_fingerprint_of_stored_forms_is_unchanged() -> None:
    # Stored fingerprints must keep matching their retries: a tuple of plain values hashes
    # as its compact JSON, exactly as the records' identity fingerprint always did.
    identity = ("bank", 500, "credit", dt.date(2026, 3, 1).isoformat(), 2, "line-1")
    assert request_fingerprint(identity) == hashlib.sha256(msgspec.json.encode(identity)).digest()
