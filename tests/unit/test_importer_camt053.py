"""camt.052/053/054 importer (``ledger.importers.camt053``): one test per rule, the corpus of
real sample files against their independently computed numbers, and a fuzz test."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.importers import BankErrorResponse, StatementError, parse_statement
from ledger.importers.camt053 import parse_camt053
from ledger.importers.common import ParsedStatement

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"
CORPUS = STATEMENTS / "corpus"
NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def entry(
    amount: str = "10.00",
    indicator: str = "CRDT",
    *,
    ccy: str = "EUR",
    status: str = "<Sts>BOOK</Sts>",
    date: str = "<BookgDt><Dt>2026-06-01</Dt></BookgDt><ValDt><Dt>2026-06-02</Dt></ValDt>",
    ref: str = "<AcctSvcrRef>BANKREF-1</AcctSvcrRef>",
    extra: str = "",
    details: str = "",
) -> str:
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{extra}'
        f"{status}{date}{ref}{details}</Ntry>"
    )


def tx(body: str) -> str:
    return f"<TxDtls>{body}</TxDtls>"


def details(*parts: str) -> str:
    return f"<NtryDtls>{''.join(parts)}</NtryDtls>"


def statement(
    *entries: str,
    account: str = "<IBAN>DE89370400440532013000</IBAN>",
    balances: str = "",
    tag: str = "Stmt",
    ident: str = "STMT-1",
) -> str:
    return (
        f"<{tag}><Id>{ident}</Id><CreDtTm>2026-06-03T08:00:00</CreDtTm>"
        f"<Acct><Id>{account}</Id><Ccy>EUR</Ccy></Acct>{balances}{''.join(entries)}</{tag}>"
    )


def document(*statements: str, message: str = "BkToCstmrStmt", ns: str = NS) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}"><{message}>'
        f"<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-06-03T08:00:00</CreDtTm></GrpHdr>"
        f"{''.join(statements)}</{message}></Document>"
    ).encode()


def parse(content: bytes) -> ParsedStatement:
    return parse_statement(content, "camt053")


def balance(code: str, amount: str, indicator: str = "CRDT") -> str:
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
        f"<Dt><Dt>2026-06-01</Dt></Dt></Bal>"
    )


# ---------------------------------------------------------------- amount and direction


def test_a_single_part_entry_is_the_entry_amount_not_the_detail_amount() -> None:
    # The entry of 8.85 EUR whose details carry 105.75 (instructed amount) is 8.85.
    part = tx(
        '<AmtDtls><InstdAmt><Amt Ccy="EUR">105.75</Amt></InstdAmt>'
        '<TxAmt><Amt Ccy="EUR">105.75</Amt></TxAmt></AmtDtls>'
    )
    (line,) = parse(document(statement(entry("8.85", details=details(part))))).lines
    assert (line.amount, line.direction, line.currency) == (885, "credit", "EUR")


def test_an_entry_whose_detail_amount_is_zero_is_still_imported() -> None:
    part = tx('<AmtDtls><TxAmt><Amt Ccy="SEK">0</Amt></TxAmt></AmtDtls>')
    parsed = parse(document(statement(entry("125.00", "DBIT", ccy="SEK", details=details(part)))))
    assert [(ln.amount, ln.direction) for ln in parsed.lines] == [(12500, "debit")]
    assert parsed.skipped == []


def test_a_debit_with_an_instructed_amount_in_another_currency_stays_the_booked_debit() -> None:
    # A booked debit of 200,000 SEK whose detail is the instructed 4.10 USD (credit in the part).
    part = tx(
        '<AmtDtls><InstdAmt><Amt Ccy="USD">4.10</Amt></InstdAmt></AmtDtls>'
        "<CdtDbtInd>CRDT</CdtDbtInd>"
    )
    (line,) = parse(
        document(statement(entry("200000", "DBIT", ccy="SEK", details=details(part))))
    ).lines
    assert (line.amount, line.direction, line.currency) == (20000000, "debit", "SEK")
    (corpus_line,) = parse((CORPUS / "camt053/genkgo-camt/camt054.v2.xml").read_bytes()).lines
    assert (corpus_line.amount, corpus_line.direction) == (20000000, "debit")


def test_the_real_samples_that_pycamt_got_wrong() -> None:
    # genkgo's camt.053 v3: an entry of 8.85 EUR whose details say 105.75.
    v3 = parse((CORPUS / "camt053/genkgo-camt/camt053.v3.xml").read_bytes())
    assert [(ln.amount, ln.direction) for ln in v3.lines] == [(885, "credit")]
    # ISO's business sample: booked entries whose detail amount is "0 SEK", and a debit of
    # 200,000 SEK; the file's opening and closing balances agree with these three.
    sample = CORPUS / "camt053/dvbern-iso20022/camt053/v00104/Business Sample camt.053.001.04.xml"
    lines = parse(sample.read_bytes()).lines
    assert [(ln.amount, ln.direction, ln.currency) for ln in lines] == [
        (10567850, "credit", "SEK"),
        (20000000, "debit", "SEK"),
        (3000000, "credit", "SEK"),
    ]


def test_a_reversal_keeps_its_booked_direction_and_is_marked() -> None:
    (line,) = parse(
        document(statement(entry("5.00", "DBIT", extra="<RvslInd>true</RvslInd>")))
    ).lines
    assert line.direction == "debit"
    assert line.metadata["reversal"] is True


def test_more_decimals_than_the_currency_has_is_refused() -> None:
    with pytest.raises(StatementError, match=r"statement 1, entry 1: .*more than 2 decimals"):
        parse(document(statement(entry("1.005"))))
    # Trailing zeros are not more decimals.
    (line,) = parse(document(statement(entry("8.85000")))).lines
    assert line.amount == 885


def test_an_entry_without_amount_or_indicator_is_refused_naming_it() -> None:
    bad = "<Ntry><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-06-01</Dt></BookgDt></Ntry>"
    with pytest.raises(StatementError, match=r"statement 1, entry 2: .*amount \(Amt\)"):
        parse(document(statement(entry(), bad)))
    with pytest.raises(StatementError, match=r"entry 1: .*CdtDbtInd"):
        parse(document(statement(entry(indicator="XXXX"))))


# ---------------------------------------------------------------- batch entries


def _parts(*amounts: tuple[str, str], indicator: str | None = None) -> str:
    return details(
        *(
            tx(
                f"<Refs><EndToEndId>{ref}</EndToEndId></Refs>"
                f'<Amt Ccy="EUR">{amount}</Amt>'
                + (f"<CdtDbtInd>{indicator}</CdtDbtInd>" if indicator else "")
                + f"<RmtInf><Ustrd>part {ref}</Ustrd></RmtInf>"
            )
            for amount, ref in amounts
        )
    )


def test_a_batch_entry_whose_parts_add_up_is_one_line_per_part() -> None:
    batch = entry("300.00", details=_parts(("100.00", "E2E-A"), ("200.00", "E2E-B")))
    lines = parse(document(statement(batch))).lines
    assert [(ln.amount, ln.direction, ln.description) for ln in lines] == [
        (10000, "credit", "part E2E-A"),
        (20000, "credit", "part E2E-B"),
    ]
    # The entry's reference with each part's own: the parts are told apart.
    assert [ln.bank_reference for ln in lines] == ["BANKREF-1/E2E-A", "BANKREF-1/E2E-B"]
    assert [ln.location for ln in lines] == [
        "statement 1, entry 1, part 1",
        "statement 1, entry 1, part 2",
    ]
    assert len({ln.external_id for ln in lines}) == 2


def test_a_part_amount_in_the_entry_currency_is_taken_from_amtdtls_too() -> None:
    parts = details(
        tx(
            '<AmtDtls><InstdAmt><Amt Ccy="USD">50.00</Amt></InstdAmt>'
            '<TxAmt><Amt Ccy="EUR">40.00</Amt></TxAmt></AmtDtls>'
        ),
        tx('<AmtDtls><InstdAmt><Amt Ccy="EUR">60.00</Amt></InstdAmt></AmtDtls>'),
    )
    lines = parse(document(statement(entry("100.00", "DBIT", details=parts)))).lines
    assert [(ln.amount, ln.direction) for ln in lines] == [(4000, "debit"), (6000, "debit")]


def test_a_part_with_its_own_direction_keeps_it() -> None:
    parts = details(
        tx('<Amt Ccy="EUR">120.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'),
        tx('<Amt Ccy="EUR">20.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>'),
    )
    lines = parse(document(statement(entry("100.00", details=parts)))).lines
    assert [(ln.amount, ln.direction) for ln in lines] == [(12000, "credit"), (2000, "debit")]


def test_parts_in_the_entry_currency_that_do_not_add_up_are_refused() -> None:
    batch = entry("105.75", details=_parts(("50.00", "A"), ("30.00", "B"), ("20.00", "C")))
    others = [entry("1.00", ref="") for _ in range(6)]
    with pytest.raises(StatementError) as caught:
        parse(document(statement(*others, batch)))
    assert str(caught.value) == (
        "statement 1, entry 7: its 3 parts sum to 100.00 EUR but the entry is 105.75 EUR"
    )
    assert caught.value.details["location"] == "statement 1, entry 7"


def test_parts_without_an_amount_in_the_entry_currency_leave_one_line_with_a_warning() -> None:
    parts = details(
        tx('<AmtDtls><InstdAmt><Amt Ccy="USD">4.10</Amt></InstdAmt></AmtDtls>'),
        tx('<AmtDtls><InstdAmt><Amt Ccy="USD">5.10</Amt></InstdAmt></AmtDtls>'),
    )
    parsed = parse(document(statement(entry("90.00", "DBIT", ccy="SEK", details=parts))))
    assert [(ln.amount, ln.direction, ln.bank_reference) for ln in parsed.lines] == [
        (9000, "debit", "BANKREF-1")
    ]
    assert any("no amount in SEK" in w for w in parsed.warnings)


def test_zero_entries_and_zero_parts_are_skipped_as_zero_amount() -> None:
    batch = entry("10.00", details=_parts(("10.00", "A"), ("0.00", "B")))
    parsed = parse(document(statement(entry("0.00"), batch)))
    assert [(ln.amount, ln.location) for ln in parsed.lines] == [
        (1000, "statement 1, entry 2, part 1")
    ]
    assert [(s.location, s.reason) for s in parsed.skipped] == [
        ("statement 1, entry 1", "zero_amount"),
        ("statement 1, entry 2, part 2", "zero_amount"),
    ]


# ---------------------------------------------------------------- status, date, account, kind


@pytest.mark.parametrize("status", ["PDNG", "INFO", "FUTR"])
def test_pending_information_and_future_entries_are_skipped(status: str) -> None:
    parsed = parse(document(statement(entry(), entry(status=f"<Sts>{status}</Sts>"))))
    assert len(parsed.lines) == 1
    (skipped,) = parsed.skipped
    assert (skipped.location, skipped.reason) == ("statement 1, entry 2", "pending")
    assert skipped.detail
    assert status in skipped.detail


def test_a_status_code_or_no_status_is_booked() -> None:
    lines = parse(
        document(statement(entry(status="<Sts><Cd>BOOK</Cd></Sts>"), entry(status="")))
    ).lines
    assert len(lines) == 2
    parsed = parse(document(statement(entry(status="<Sts><Cd>PDNG</Cd></Sts>"))))
    assert parsed.lines == []
    assert parsed.skipped[0].reason == "pending"


def test_the_date_is_the_booking_date_as_written_else_the_value_date() -> None:
    late = "<BookgDt><DtTm>2026-06-01T23:30:00-05:00</DtTm></BookgDt>"
    value_only = "<ValDt><Dt>2026-06-05</Dt></ValDt>"
    lines = parse(document(statement(entry(date=late), entry(date=value_only)))).lines
    # 2026-06-01T23:30-05:00 is 2026-06-02 in UTC: the date as written is kept.
    assert [ln.date for ln in lines] == [dt.date(2026, 6, 1), dt.date(2026, 6, 5)]
    assert lines[0].metadata.get("value_date") is None
    assert lines[1].metadata["value_date"] == "2026-06-05"


def test_each_line_keeps_its_own_statements_account() -> None:
    content = document(
        statement(entry("1.00"), ident="S1"),
        statement(entry("2.00"), account="<Othr><Id>12345678</Id></Othr>", ident="S2"),
    )
    lines = parse(content).lines
    assert [(ln.account, ln.metadata["statement"], ln.location) for ln in lines] == [
        ("DE89370400440532013000", "S1", "statement 1, entry 1"),
        ("12345678", "S2", "statement 2, entry 1"),
    ]


@pytest.mark.parametrize(
    ("message", "tag", "version", "kind", "where"),
    [
        ("BkToCstmrStmt", "Stmt", "camt.053.001.13", "camt.053", "statement 1, entry 1"),
        ("BkToCstmrAcctRpt", "Rpt", "camt.052.001.08", "camt.052", "report 1, entry 1"),
        (
            "BkToCstmrDbtCdtNtfctn",
            "Ntfctn",
            "camt.054.001.02",
            "camt.054",
            "notification 1, entry 1",
        ),
    ],
)
def test_the_kind_is_the_message_read(
    message: str, tag: str, version: str, kind: str, where: str
) -> None:
    content = document(
        statement(entry(), tag=tag), message=message, ns=f"urn:iso:std:iso:20022:tech:xsd:{version}"
    )
    parsed = parse(content)
    assert parsed.kind == kind
    assert parsed.lines[0].location == where
    assert parsed.lines[0].metadata["source"] == kind


def test_encodings_a_bom_and_blanks_before_the_declaration_are_read() -> None:
    base = (STATEMENTS / "statement.camt053.xml").read_bytes()
    text = base.decode()
    for content in (
        b"\n  " + base,
        b"\xef\xbb\xbf\r\n" + base,
        text.replace("UTF-8", "UTF-16").encode("utf-16"),
        text.replace("UTF-8", "ISO-8859-1").encode("latin-1"),
    ):
        assert len(parse(content).lines) == 4


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_archive_of_camt_files_is_read_file_by_file() -> None:
    first = document(statement(entry("1.00")))
    second = document(
        statement(entry("2.00", "DBIT"), tag="Ntfctn"), message="BkToCstmrDbtCdtNtfctn"
    )
    parsed = parse(_zip(("a.xml", first), ("readme.txt", b"hello"), ("b.xml", second)))
    assert parsed.kind == "camt.053, camt.054"
    assert [(ln.amount, ln.direction, ln.location) for ln in parsed.lines] == [
        (100, "credit", "file a.xml, statement 1, entry 1"),
        (200, "debit", "file b.xml, notification 1, entry 1"),
    ]
    assert parsed.warnings == ["readme.txt in the ZIP archive is not a camt file; left out"]
    with pytest.raises(StatementError, match=r"^file b.xml, statement 1, entry 1: .*CdtDbtInd"):
        parse(_zip(("a.xml", first), ("b.xml", document(statement(entry(indicator="X"))))))
    for bad, words in (
        (_zip(("readme.txt", b"hello")), "holds no camt file"),
        (_zip(), "holds no camt file"),
        (_zip(("inner.zip", _zip(("a.xml", first)))), "holds no camt file"),
        (_zip(("a.xml", first))[:60], "damaged or unsupported ZIP"),
    ):
        with pytest.raises(StatementError, match=words):
            parse(bad)


def test_namespaces_do_not_matter() -> None:
    base = document(statement(entry()))
    plain = base.replace(f' xmlns="{NS}"'.encode(), b"")
    prefixed = re.sub(rb"<(/?)(\w)", rb"<\1c:\2", base).replace(b' xmlns="', b' xmlns:c="')
    for content in (plain, prefixed):
        (line,) = parse(content).lines
        assert (line.amount, line.account) == (1000, "DE89370400440532013000")


def test_a_message_in_an_envelope_and_a_version_01_message_are_read() -> None:
    envelope = (
        b"<message><AppHdr xmlns='urn:iso:std:iso:20022:tech:xsd:head.001.001.01'>"
        b"<MsgDefIdr>camt.053.001.07</MsgDefIdr></AppHdr>"
        + document(statement(entry()), ns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.07").split(
            b"?>", 1
        )[1]
        + b"</message>"
    )
    (line,) = parse(envelope).lines
    assert line.amount == 1000
    old = (
        document(
            statement(entry(), account="<PrtryAcct><Id>CH2801234000123456789</Id></PrtryAcct>"),
            message="BkToCstmrAcctRptV01",
            ns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.01",
        )
        .replace(b"<Stmt>", b"<Rpt>")
        .replace(b"</Stmt>", b"</Rpt>")
    )
    parsed = parse(old)
    assert parsed.kind == "camt.052"
    assert parsed.lines[0].account == "CH2801234000123456789"


def test_an_entry_without_any_date_takes_its_statements_creation_date_with_a_warning() -> None:
    parsed = parse(document(statement(entry(date=""))))
    assert parsed.lines[0].date == dt.date(2026, 6, 3)
    assert parsed.warnings == [
        "statement 1, entry 1: no booking or value date; dated by the statement's creation date"
    ]
    with pytest.raises(StatementError, match="is not a date"):
        parse(document(statement(entry(date="<BookgDt><Dt>2026-02-30</Dt></BookgDt>"))))


# ---------------------------------------------------------------- balances, references, text


def test_balances_that_do_not_add_up_are_a_warning() -> None:
    good = balance("OPBD", "100.00") + balance("CLBD", "90.00")
    assert parse(document(statement(entry("10.00", "DBIT"), balances=good))).warnings == []
    prcd = balance("PRCD", "5.00", "DBIT") + balance("CLBD", "5.00")
    assert parse(document(statement(entry("10.00"), balances=prcd))).warnings == []
    bad = balance("OPBD", "100.00") + balance("CLBD", "95.00")
    (warning,) = parse(document(statement(entry("10.00", "DBIT"), balances=bad))).warnings
    assert warning.startswith("statement 1 (account DE89370400440532013000): the opening balance")
    assert "90.00" in warning
    assert "95.00" in warning
    # A balance that cannot be read only skips the check.
    broken = balance("OPBD", "100.00") + balance("CLBD", "1250,00")
    parsed = parse(document(statement(entry("10.00", "DBIT"), balances=broken)))
    assert len(parsed.lines) == 1
    assert parsed.warnings == [
        "statement 1, balance CLBD: the balance amount (Amt): '1250,00' is not an amount; "
        "the balances are not checked"
    ]


def test_only_real_references_are_bank_references() -> None:
    lines = parse(
        document(
            statement(
                entry(ref="<AcctSvcrRef>NOTPROVIDED</AcctSvcrRef>"),
                entry(
                    ref="", details=details(tx("<Refs><AcctSvcrRef>TX-REF-9</AcctSvcrRef></Refs>"))
                ),
            )
        )
    ).lines
    assert [ln.bank_reference for ln in lines] == [None, "TX-REF-9"]


def test_description_and_metadata() -> None:
    part = tx(
        "<Refs><EndToEndId>E2E-1</EndToEndId></Refs>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        "<RltdPties><Dbtr><Nm>Acme Corp</Nm></Dbtr><Cdtr><Nm>Us</Nm></Cdtr></RltdPties>"
        "<RmtInf><Ustrd>Invoice</Ustrd><Ustrd>1001</Ustrd></RmtInf>"
    )
    (line,) = parse(
        document(statement(entry(extra="<NtryRef>NR-7</NtryRef>", details=details(part))))
    ).lines
    assert line.description == "Invoice 1001"
    assert line.metadata == {
        "source": "camt.053",
        "statement": "STMT-1",
        "entry_reference": "NR-7",
        "value_date": "2026-06-02",
        "counterparty": "Acme Corp",
        "end_to_end_id": "E2E-1",
        "bank_transaction_code": "PMNT/RCDT/ESCT",
    }
    newer = tx(
        "<RltdPties><Cdtr><Pty><Nm>Shop Ltd</Nm></Pty></Cdtr></RltdPties>"
        "<RmtInf><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>"
    )
    (debit,) = parse(document(statement(entry(indicator="DBIT", details=details(newer))))).lines
    assert debit.metadata["counterparty"] == "Shop Ltd"
    assert debit.description == "RF18539007547034"
    only_entry = entry(extra="", details="").replace(
        "</Ntry>", "<AddtlNtryInf>Bank fee</AddtlNtryInf></Ntry>"
    )
    (fee,) = parse(document(statement(only_entry))).lines
    assert fee.description == "Bank fee"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"hello, world", "not XML"),
        (b"<html><body><p>Login</p></body></html>", "web page (HTML)"),
        (b"<!DOCTYPE html>\n<html><head><meta charset=utf-8></head></html>", "web page (HTML)"),
        (b'{"error": "unauthorized"}', "not XML"),
        (
            b'<?xml version="1.0"?>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">'
            b"<CstmrCdtTrfInitn/></Document>",
            "not a camt.053",
        ),
        (b"<Document><BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>", "no statement"),
        (b"<Document><unclosed>", "not well-formed XML"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "entities"),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>', "entities"),
        (b"<a>" * 5000 + b"</a>" * 5000, "XML"),
    ],
)
def test_what_is_not_a_camt_message_is_refused_in_plain_words(content: bytes, words: str) -> None:
    with pytest.raises(StatementError) as caught:
        parse(content)
    message = str(caught.value)
    assert words in message
    assert " at 0x" not in message
    assert "<lxml" not in message
    assert len(message) < 300


def test_the_fixture_statement_still_parses() -> None:
    parsed = parse((STATEMENTS / "statement.camt053.xml").read_bytes())
    assert parsed.kind == "camt.053"
    assert [(ln.amount, ln.direction) for ln in parsed.lines] == [
        (15000, "credit"),
        (2550, "debit"),
        (10000, "credit"),
        (20000, "credit"),
    ]
    assert parsed.warnings == []  # its balances add up


# ---------------------------------------------------------------- never anything else


def _ok_or_refused(content: bytes) -> None:
    message = None
    try:
        result = parse_camt053(content, 2)
    except (StatementError, BankErrorResponse) as e:
        message = str(e)
    if message is None:
        assert isinstance(result, ParsedStatement)
    else:
        assert message


SEED = (STATEMENTS / "statement.camt053.xml").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_else(content: bytes) -> None:
    _ok_or_refused(content)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 40), st.binary(max_size=12)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_statements_never_raise_anything_else(
    edits: list[tuple[int, int, bytes]],
) -> None:
    content = bytearray(SEED)
    for at, cut, insert in edits:
        content[at : at + cut] = insert
    _ok_or_refused(bytes(content))
