"""Statement importers: each format, stable external ids, refusals (no database)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.cli import quiet_third_party_loggers
from ledger.errors import LedgerError
from ledger.importers import (
    FORMAT_NAMES,
    ParsedStatement,
    StatementError,
    detect_format,
    parse_statement,
)

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"
CSV_MAPPING = {
    "date": "Booking Date",
    "description": "Text",
    "amount": "Amount",
    "external_id": "Reference",
    "metadata": ["Counterparty"],
    "date_format": "%d.%m.%Y",
    "delimiter": ";",
    "decimal_separator": ",",
    "thousands_separator": ".",
}


def read(name: str) -> bytes:
    return (STATEMENTS / name).read_bytes()


def test_csv_with_a_column_mapping() -> None:
    lines = parse_statement(read("statement.csv"), "csv", mapping=CSV_MAPPING).lines
    assert [(ln.amount, ln.direction, ln.date) for ln in lines] == [
        (15000, "credit", dt.date(2026, 6, 1)),
        (2550, "debit", dt.date(2026, 6, 2)),
        (2550, "debit", dt.date(2026, 6, 2)),
        (109999, "debit", dt.date(2026, 6, 3)),
    ]
    ids = [ln.external_id for ln in lines]
    assert ids[0] == "REF-1"
    assert ids[3] == "REF-3"
    # Two identical lines without a reference: their identity, numbered by occurrence.
    assert ids[1] == "stmt:-|-|2026-06-02|D2550|-|1"
    assert ids[2] == "stmt:-|-|2026-06-02|D2550|-|2"
    assert lines[0].metadata == {"source": "csv", "Counterparty": "Acme Corp"}
    assert lines[0].description == "Invoice 1001 Acme Corp"


def test_parsing_twice_gives_the_same_ids() -> None:
    for fmt, name in (
        ("csv", "statement.csv"),
        ("ofx", "statement.ofx"),
        ("mt940", "statement.mt940"),
        ("camt053", "statement.camt053.xml"),
    ):
        mapping = CSV_MAPPING if fmt == "csv" else None
        first = parse_statement(read(name), fmt, mapping=mapping)
        assert first == parse_statement(read(name), fmt, mapping=mapping)


def test_formats_are_detected() -> None:
    assert detect_format("x.ofx", b"") == "ofx"
    assert detect_format(None, read("statement.ofx")) == "ofx"
    assert detect_format(None, read("statement.mt940")) == "mt940"
    assert detect_format(None, read("statement.camt053.xml")) == "camt053"
    assert detect_format("statement.csv", b"") == "csv"
    with pytest.raises(StatementError):
        detect_format(None, b"hello")


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("ofx", b"OFXHEADER:100\n<OFX><BROKEN>"),
        ("mt940", b"not a statement"),
        ("camt053", b"<Document><unclosed>"),
        ("camt053", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
        ("csv", b"date,amount\n2026-06-01,12.345\n"),
        ("csv", b"date,amount\n01/06/2026,12\n"),
    ],
)
def test_unreadable_files_are_refused(fmt: str, content: bytes) -> None:
    with pytest.raises(StatementError) as caught:
        parse_statement(content, fmt)
    assert caught.value.details["field"] in ("file", "mapping")


def test_csv_mapping_errors_name_the_mapping() -> None:
    with pytest.raises(StatementError) as caught:
        parse_statement(b"a,b\n1,2\n", "csv", mapping={"date": "missing"})
    assert caught.value.details["field"] == "mapping"
    with pytest.raises(StatementError):
        parse_statement(b"date,amount\n", "csv", mapping={"bogus": "x"})


def test_csv_lines_carry_their_account_and_currency_and_zero_lines_are_listed() -> None:
    content = (
        b"date,amount,account,currency\n2026-06-01,12,NL91 ABNA 0417 1643 00,jpy\n"
        b"2026-06-01,0.00,NL91ABNA0417164300,EUR\n2026-06-02,-1.5,NL91ABNA0417164300,EUR\n"
    )
    parsed = parse_statement(content, "csv")
    assert [(ln.amount, ln.direction, ln.currency, ln.decimal_places) for ln in parsed.lines] == [
        (12, "credit", "JPY", 0),
        (150, "debit", "EUR", 2),
    ]
    assert {ln.account for ln in parsed.lines} == {"NL91ABNA0417164300"}
    assert [(s.location, s.reason) for s in parsed.skipped] == [("line 3", "zero_amount")]
    with pytest.raises(StatementError) as caught:
        parse_statement(b"date,amount,currency\n2026-06-01,1,euro\n", "csv")
    assert caught.value.details["location"] == "line 2"


SAMPLES = {
    "statement.ofx": "ofx",
    "statement.mt940": "mt940",
    "statement.camt053.xml": "camt053",
}


def outcome(content: bytes, fmt: str) -> ParsedStatement | LedgerError:
    try:
        return parse_statement(content, fmt)
    except LedgerError as e:  # anything else fails the test
        return e


def assert_lines_or_a_4xx(result: ParsedStatement | LedgerError) -> None:
    if isinstance(result, LedgerError):
        assert 400 <= result.status_code < 500
        assert result.message
        assert " at 0x" not in result.message  # no object reprs
    else:
        assert all(ln.amount > 0 and ln.direction in ("credit", "debit") for ln in result.lines)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from(FORMAT_NAMES))
def test_any_bytes_give_lines_or_a_4xx(content: bytes, fmt: str) -> None:
    assert_lines_or_a_4xx(outcome(content, fmt))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=8)), min_size=1, max_size=6),
)
def test_a_damaged_statement_gives_lines_or_a_4xx(
    name: str, edits: list[tuple[float, bytes]]
) -> None:
    content = bytearray(read(name))
    for where, replacement in edits:
        at = int(where * len(content))
        content[at : at + len(replacement)] = replacement
    assert_lines_or_a_4xx(outcome(bytes(content), SAMPLES[name]))


def test_the_readers_libraries_are_quiet_unless_debug() -> None:
    quiet_third_party_loggers("INFO")
    assert logging.getLogger("mt940").getEffectiveLevel() == logging.CRITICAL
    logging.getLogger("mt940").setLevel(logging.NOTSET)
    quiet_third_party_loggers("DEBUG")
    assert logging.getLogger("mt940").level == logging.NOTSET


def test_a_csv_row_the_csv_module_cannot_read_is_named() -> None:
    huge = b"x" * (200 * 1024)  # over the csv module's field size limit
    with pytest.raises(StatementError) as caught:
        parse_statement(b"date,amount\n2026-06-01,1\n2026-06-02," + huge + b"\n", "csv")
    assert caught.value.details["location"] == "line 3"
    assert "field larger than field limit" in caught.value.message


def test_control_characters_never_reach_a_record() -> None:
    # PostgreSQL text cannot hold NUL; a bank's file may carry it in any field.
    content = (
        b"date,amount,description,account,external_id,memo\n"
        b"2026-06-01,1,a\x00b\x07c,NL91\x00ABNA,ID\x001,x\x00y\n"
    )
    mapping = {"metadata": ["memo"]}
    (line,) = parse_statement(content, "csv", mapping=mapping).lines
    assert (line.description, line.account, line.external_id) == ("a b c", "NL91ABNA", "ID 1")
    assert line.metadata["memo"] == "x y"
