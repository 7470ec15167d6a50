"""Statement line identity and the account plan of an import (no database).

The identity rule (``ledger.importers.common.with_stable_ids``) is what makes a second
delivery of a line — the same file again, an overlapping daily file, the final statement
after the interim one — the same record, and two equal lines two records.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.commands.statement_import import StatementAccountMismatch, plan_streams
from ledger.importers.common import (
    EXTERNAL_ID_LENGTH_MAX,
    StatementLine,
    real_reference,
    with_stable_ids,
)


def line(**kw: object) -> StatementLine:
    fields: dict[str, object] = {
        "amount": 2550,
        "direction": "debit",
        "date": dt.date(2026, 6, 2),
        "decimal_places": 2,
        "account": "NL91ABNA0417164300",
        "currency": "EUR",
    }
    fields.update(kw)
    return StatementLine(**fields)  # type: ignore[arg-type]


lines_strategy = st.lists(
    st.builds(
        line,
        amount=st.integers(1, 10**6),
        direction=st.sampled_from(["credit", "debit"]),
        date=st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 5)),
        account=st.sampled_from(["NL91ABNA0417164300", "DE89370400440532013000", None]),
        bank_reference=st.sampled_from([None, "REF1", "REF2"]),
        description=st.text(max_size=5),
    ),
    max_size=40,
)


@given(lines_strategy)
def test_ids_are_unique_within_a_file(lines: list[StatementLine]) -> None:
    ids = [ln.external_id for ln in with_stable_ids(lines)]
    assert len(set(ids)) == len(ids)
    assert all(i is not None and len(i) <= EXTERNAL_ID_LENGTH_MAX for i in ids)


@given(lines_strategy, st.data())
def test_an_interim_delivery_has_the_ids_of_the_final_one(
    lines: list[StatementLine], data: st.DataObject
) -> None:
    # The interim statement holds the first k lines of the day, with other text and
    # statement references; the final statement holds them all.
    k = data.draw(st.integers(0, len(lines)))
    interim = [
        StatementLine(**{**ln.__dict__, "description": "interim", "metadata": {"statement": "1"}})
        for ln in lines[:k]
    ]
    final_ids = [ln.external_id for ln in with_stable_ids(lines)]
    assert [ln.external_id for ln in with_stable_ids(interim)] == final_ids[:k]


def test_equal_lines_are_numbered_and_placeholders_are_not_references() -> None:
    ids = [ln.external_id for ln in with_stable_ids([line(), line(), line(bank_reference="X")])]
    assert ids == [
        "stmt:NL91ABNA0417164300|EUR|2026-06-02|D2550|-|1",
        "stmt:NL91ABNA0417164300|EUR|2026-06-02|D2550|-|2",
        "stmt:NL91ABNA0417164300|EUR|2026-06-02|D2550|X|1",
    ]
    for placeholder in ("NONREF", "  NONREF  ", "EREF", "N", "X", "NOTPROVIDED", "0000", ""):
        assert real_reference(placeholder) is None
    assert real_reference(" 2026060200123 ") == "2026060200123"


def test_a_long_identity_is_hashed_and_a_csv_id_kept() -> None:
    long_ref = "R" * 300
    (hashed,) = with_stable_ids([line(bank_reference=long_ref)])
    assert hashed.external_id is not None
    assert hashed.external_id.startswith("stmt:sha256:")
    assert hashed.id_is_identity
    own = with_stable_ids([line(external_id="INV-1"), line(external_id="INV-1")])
    assert [ln.external_id for ln in own] == ["INV-1", "INV-1#2"]
    assert not own[0].id_is_identity


def test_one_account_goes_to_the_stream() -> None:
    assert plan_streams(
        [line(), line()], "bank", split_by_account=False, expected_account=None
    ) == {"NL91ABNA0417164300": "bank"}


def test_several_accounts_are_refused_unless_split() -> None:
    lines = [line(), line(account="DE89370400440532013000"), line(account="DE89370400440532013000")]
    with pytest.raises(StatementAccountMismatch) as caught:
        plan_streams(lines, "bank", split_by_account=False, expected_account=None)
    assert caught.value.status_code == 422
    assert caught.value.details["accounts"] == ["NL91ABNA0417164300", "DE89370400440532013000"]
    assert "DE89370400440532013000 (2 lines)" in caught.value.message
    assert plan_streams(lines, "bank", split_by_account=True, expected_account=None) == {
        "NL91ABNA0417164300": "bank:NL91ABNA0417164300",
        "DE89370400440532013000": "bank:DE89370400440532013000",
    }


def test_a_file_of_another_account_than_expected_is_refused() -> None:
    with pytest.raises(StatementAccountMismatch) as caught:
        plan_streams([line()], "bank", split_by_account=False, expected_account="DE89 3704")
    assert caught.value.details["field"] == "account"
    # Spaces and case do not make another account.
    assert plan_streams(
        [line()], "bank", split_by_account=False, expected_account="nl91 abna 0417 1643 00"
    ) == {"NL91ABNA0417164300": "bank"}
