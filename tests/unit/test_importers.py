"""Statement importers: each format, stable external ids, refusals (no database)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ledger.importers import StatementError, detect_format, parse_statement

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


def summary(fmt: str, name: str, **kw: object) -> list[tuple[object, ...]]:
    lines = parse_statement(read(name), fmt, **kw)  # type: ignore[arg-type]
    return [(ln.amount, ln.direction, ln.date, ln.external_id, ln.decimal_places) for ln in lines]


def test_csv_with_a_column_mapping() -> None:
    lines = parse_statement(read("statement.csv"), "csv", mapping=CSV_MAPPING)
    assert [(ln.amount, ln.direction, ln.date) for ln in lines] == [
        (15000, "credit", dt.date(2026, 6, 1)),
        (2550, "debit", dt.date(2026, 6, 2)),
        (2550, "debit", dt.date(2026, 6, 2)),
        (109999, "debit", dt.date(2026, 6, 3)),
    ]
    ids = [ln.external_id for ln in lines]
    assert ids[0] == "REF-1"
    assert ids[3] == "REF-3"
    # Two identical lines without a reference: a content hash, then the same with #2.
    assert ids[1] is not None
    assert ids[1].startswith("sha256:")
    assert ids[2] == f"{ids[1]}#2"
    assert lines[0].metadata == {"source": "csv", "Counterparty": "Acme Corp"}
    assert lines[0].description == "Invoice 1001 Acme Corp"


def test_ofx() -> None:
    assert summary("ofx", "statement.ofx") == [
        (15000, "credit", dt.date(2026, 6, 1), "FIT-0001", 2),
        (2550, "debit", dt.date(2026, 6, 2), "FIT-0002", 2),
        (40000, "debit", dt.date(2026, 6, 3), "FIT-0003", 2),
    ]
    first = parse_statement(read("statement.ofx"), "ofx")[0]
    assert first.description == "ACME CORP Invoice 1001"
    assert first.metadata["account"] == "000123456789"


def test_mt940() -> None:
    lines = summary("mt940", "statement.mt940")
    assert lines[:2] == [
        (15000, "credit", dt.date(2026, 6, 1), "BANKREF1", 2),
        (2550, "debit", dt.date(2026, 6, 2), "BANKREF2", 2),
    ]
    # NONREF and no bank reference: a content hash.
    assert str(lines[2][3]).startswith("sha256:")


def test_camt053_splits_batch_entries() -> None:
    assert summary("camt053", "statement.camt053.xml") == [
        (15000, "credit", dt.date(2026, 6, 1), "ASR-0001/E2E-INV-1001", 2),
        (2550, "debit", dt.date(2026, 6, 2), "ASR-0002", 2),
        (10000, "credit", dt.date(2026, 6, 3), "ASR-0003/E2E-A", 2),
        (20000, "credit", dt.date(2026, 6, 3), "ASR-0003/E2E-B", 2),
    ]
    lines = parse_statement(read("statement.camt053.xml"), "camt053")
    assert lines[0].description == "Invoice 1001"
    assert lines[0].metadata["account"] == "DE89370400440532013000"
    assert lines[0].metadata["counterparty"] == "Acme Corp"


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
