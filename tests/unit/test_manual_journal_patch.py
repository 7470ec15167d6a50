"""Which native command a manual-journal PATCH is (``decide_patch``): annotation or amendment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from ledger.api.compat.manual_journals import (
    Amendment,
    Annotation,
    LineItemBody,
    LineItemOut,
    ManualJournalOut,
    ManualJournalPatch,
    Unchanged,
    decide_patch,
)
from ledger.errors import ValidationError

CURRENT = ManualJournalOut(
    id="jou_33dCzmjULSzy3uaFBLfC4w",
    date=dt.date(2021, 4, 15),
    reference="ref",
    notes="notes",
    currency="SAR",
    line_items=[
        LineItemOut(
            id="jli_F9pi7TWN3pMh6v8a6zHan2",
            description="description 1",
            contact="co_bhpSXLJV8vnDGTQod4v9zf",
            account="acc_PaKpYDGtfJzAeC6PQEGnAn",
            amount=Decimal("-100.00"),
            currency="SAR",
        ),
        LineItemOut(
            id="jli_PoW4MbQKaFq2b66xx3qMqt",
            description="description 2",
            contact=None,
            account="acc_UDkHkHSV7o2bQt9rRXYX7X",
            amount=Decimal("100.00"),
            currency="USD",
        ),
    ],
)


def patch(**fields: Any) -> ManualJournalPatch:
    return msgspec.json.decode(msgspec.json.encode(fields), type=ManualJournalPatch)


def same_lines() -> list[dict[str, Any]]:
    return [
        {
            "description": line.description,
            "contact": line.contact,
            "account": line.account,
            "amount": float(line.amount),
            "currency": line.currency,
        }
        for line in CURRENT.line_items
    ]


def test_nothing_given_or_nothing_different_is_unchanged() -> None:
    assert decide_patch(CURRENT, patch()) == Unchanged()
    same = patch(
        date="2021-04-15", reference="ref", notes="notes", currency="SAR", line_items=same_lines()
    )
    assert decide_patch(CURRENT, same) == Unchanged()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"reference": "new"}, Annotation(reference="new", notes="notes")),
        ({"notes": "new"}, Annotation(reference="ref", notes="new")),
        ({"notes": None}, Annotation(reference="ref", notes=None)),
        ({"reference": None, "notes": "n", "date": "2021-04-15"}, Annotation(None, "n")),
    ],
)
def test_only_reference_or_notes_is_an_annotation(
    fields: dict[str, Any], expected: Annotation
) -> None:
    assert decide_patch(CURRENT, patch(**fields)) == expected


def test_a_new_date_is_an_amendment_of_the_whole_journal() -> None:
    decision = decide_patch(CURRENT, patch(date="2021-05-01", notes="moved"))
    assert isinstance(decision, Amendment)
    body = decision.body
    assert (body.date, body.reference, body.notes, body.currency) == (
        dt.date(2021, 5, 1),
        "ref",
        "moved",
        "SAR",
    )
    assert [
        (line.account, bytes(line.amount), line.description, line.contact, line.currency)
        for line in body.line_items
    ] == [
        (
            "acc_PaKpYDGtfJzAeC6PQEGnAn",
            b"-100.00",
            "description 1",
            "co_bhpSXLJV8vnDGTQod4v9zf",
            "SAR",
        ),
        ("acc_UDkHkHSV7o2bQt9rRXYX7X", b"100.00", "description 2", None, "USD"),
    ]


def test_a_new_currency_moves_the_lines_in_the_old_one() -> None:
    decision = decide_patch(CURRENT, patch(currency="EUR"))
    assert isinstance(decision, Amendment)
    assert decision.body.currency == "EUR"
    assert [line.currency for line in decision.body.line_items] == ["EUR", "USD"]


def test_new_lines_are_an_amendment_with_those_lines() -> None:
    lines = same_lines()
    lines[0]["amount"] = -100.5
    lines[1]["amount"] = 100.5
    decision = decide_patch(CURRENT, patch(line_items=lines))
    assert isinstance(decision, Amendment)
    assert [bytes(line.amount) for line in decision.body.line_items] == [b"-100.5", b"100.5"]
    assert decision.body.date == CURRENT.date


def test_lines_naming_an_account_otherwise_count_as_changed() -> None:
    lines = same_lines()
    lines[0]["account"] = "sales"  # perhaps the same ledger, by code: reposted all the same
    assert isinstance(decide_patch(CURRENT, patch(line_items=lines)), Amendment)


def test_a_line_without_currency_reads_as_the_journals() -> None:
    lines = same_lines()
    del lines[0]["currency"]
    assert decide_patch(CURRENT, patch(line_items=lines)) == Unchanged()


@pytest.mark.parametrize("amount", ["1", 0, True])
def test_a_bad_line_amount_is_400(amount: Any) -> None:
    lines = same_lines()
    lines[1]["amount"] = amount
    with pytest.raises(ValidationError) as raised:
        decide_patch(CURRENT, patch(line_items=lines))
    assert raised.value.details["field"] == "$.line_items[1].amount"


@pytest.mark.parametrize(
    "fields", [{"date": None}, {"currency": None}, {"line_items": None}, {"id": "jou_x"}]
)
def test_fields_that_cannot_be_null_or_do_not_exist(fields: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        patch(**fields)


def test_an_amendment_body_is_a_create_body() -> None:
    decision = decide_patch(CURRENT, patch(date="2022-01-01"))
    assert isinstance(decision, Amendment)
    assert all(isinstance(line, LineItemBody) for line in decision.body.line_items)
