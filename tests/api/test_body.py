"""``decode_json``: strict decoding of request bodies, and the field paths in its errors."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from ledger.api.body import decode_json
from ledger.errors import ValidationError

Amount = Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)]


class Entry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    amount: Amount
    memo: str | None = None


class Journal(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reference: str
    entries: list[Entry]


def _journal(amount: str) -> bytes:
    return b'{"reference": "r1", "entries": [{"amount": 1}, {"amount": ' + amount.encode() + b"}]}"


def _fails(body: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        decode_json(body, Journal)
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.status_code == 400
    return info.value


def test_valid_body_decodes() -> None:
    journal = decode_json(_journal("250"), Journal)
    assert journal == Journal(reference="r1", entries=[Entry(amount=1), Entry(amount=250)])


@pytest.mark.parametrize("amount", ["1.5", "1.0", "1e3", "100E0", '"5"', "true", "null"])
def test_non_integer_amount_is_rejected_with_its_path(amount: str) -> None:
    error = _fails(_journal(amount))
    assert error.details["field"] == "$.entries[1].amount"
    assert "$.entries[1].amount" in error.message


def test_string_is_never_coerced_to_int() -> None:
    error = _fails(_journal('"5"'))
    assert "str" in error.details["reason"]


def test_largest_amount_is_accepted_exactly() -> None:
    journal = decode_json(_journal(str(2**63 - 1)), Journal)
    assert journal.entries[1].amount == 2**63 - 1


@pytest.mark.parametrize("amount", [2**63, 2**64, 10**30])
def test_amount_above_int64_is_rejected(amount: int) -> None:
    error = _fails(_journal(str(amount)))
    assert error.details["field"] == "$.entries[1].amount"


def test_bound_constraint_is_reported() -> None:
    error = _fails(_journal("0"))
    assert error.details["field"] == "$.entries[1].amount"
    assert error.details["reason"] == "Expected `int` >= 1"


def test_unknown_field_is_named() -> None:
    error = _fails(b'{"reference": "r", "entries": [{"amount": 1, "amout": 2}]}')
    assert error.details["field"] == "$.entries[0].amout"


def test_unknown_top_level_field_is_named() -> None:
    error = _fails(b'{"reference": "r", "entries": [], "extra": 1}')
    assert error.details["field"] == "$.extra"


def test_missing_field_is_named() -> None:
    error = _fails(b'{"reference": "r", "entries": [{"memo": "x"}]}')
    assert error.details["field"] == "$.entries[0].amount"


def test_missing_top_level_field_is_named() -> None:
    error = _fails(b'{"entries": []}')
    assert error.details["field"] == "$.reference"


@pytest.mark.parametrize(
    "body",
    [
        b'{"reference": "r", "entries": [',
        b"{'a': 1}",
        b"\xff",
        b'{"reference": "r", "entries": []} x',
    ],
)
def test_malformed_json_is_a_validation_error_at_the_root(body: bytes) -> None:
    error = _fails(body)
    assert error.details["field"] == "$"
    assert "not valid JSON" in error.message


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_empty_body_is_a_validation_error(body: bytes) -> None:
    error = _fails(body)
    assert error.details["field"] == "$"
    assert "empty" in error.message


def test_wrong_top_level_type_is_at_the_root() -> None:
    error = _fails(b"[1, 2]")
    assert error.details["field"] == "$"
    assert "object" in error.details["reason"]


def test_generic_container_types_decode() -> None:
    assert decode_json(b'{"a": 1}', dict[str, int]) == {"a": 1}
    with pytest.raises(ValidationError) as info:
        decode_json(b'{"a": 1.5}', dict[str, int])
    assert info.value.details["field"] == "$[...]"
