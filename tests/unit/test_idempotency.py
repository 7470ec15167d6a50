"""The client-key rule every command with one shares (ledger.domain.idempotency)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import msgspec
import pytest

from ledger.api.routes.journals import JournalBody, journal_fingerprint
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


def test_a_journal_body_without_a_reporting_currency_hashes_as_before_it_existed() -> None:
    # The fingerprint this body had when JournalBody had no reporting_currency: journals
    # stored then must still replay their retries.
    raw = (
        b'{"date":"2026-06-03","description":"sale","metadata":{"b":1,"a":[1,{"z":2,"y":null}]},'
        b'"entries":[{"ledger_code":"cash","direction":"debit","amount":1000,"metadata":{"k":"v"}},'
        b'{"ledger_id":"9b2f2c1e-0d1c-4e55-a0a3-8e5f7d0c1a11","direction":"credit","amount":1000,'
        b'"currency":"USD"}]}'
    )
    body = msgspec.json.decode(raw, type=JournalBody)
    assert journal_fingerprint(body).hex() == (
        "dec6effbcc70213c9f34281a36e6e7c41e06911423084eff8d99d77fb772f20d"
    )
    reporting = msgspec.json.decode(raw[:-1] + b',"reporting_currency":"EUR"}', type=JournalBody)
    assert journal_fingerprint(reporting) != journal_fingerprint(body)
    amendment = journal_fingerprint(body, uuid.UUID(int=1))
    assert amendment not in (journal_fingerprint(body), journal_fingerprint(body, uuid.UUID(int=2)))
