"""The OFX reader (:mod:`ledger.importers.ofx`): one test per rule, no database."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.importers import BankErrorResponse, StatementError, parse_statement
from ledger.importers import ofx as ofx_module
from ledger.importers.common import ParsedStatement

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"
CORPUS = STATEMENTS / "corpus"

SGML_HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
    "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)
XML_HEADER = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
)
SIGNON = "<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1>"


def trn(
    amount: str = "-10.00", date: str = "20260601", fitid: str = "FIT-1", extra: str = ""
) -> str:
    return (
        f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{date}<TRNAMT>{amount}<FITID>{fitid}"
        f"<NAME>SHOP{extra}</STMTTRN>"
    )


def bank(
    *transactions: str,
    account: str = "12345",
    currency: str = "USD",
    tail: str = "<LEDGERBAL><BALAMT>0<DTASOF>20260601</LEDGERBAL>",
    lists: int = 1,
) -> str:
    body = "".join(
        f"<BANKTRANLIST><DTSTART>20260601<DTEND>20260630{''.join(transactions)}</BANKTRANLIST>"
        for _ in range(lists)
    )
    return (
        "<STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
        f"<STMTRS><CURDEF>{currency}<BANKACCTFROM><BANKID>999<ACCTID>{account}"
        f"<ACCTTYPE>CHECKING</BANKACCTFROM>{body}{tail}</STMTRS></STMTTRNRS>"
    )


def sgml(*statements: str, header: str = SGML_HEADER) -> bytes:
    body = "".join(statements)
    return f"{header}<OFX>{SIGNON}<BANKMSGSRSV1>{body}</BANKMSGSRSV1></OFX>".encode()


def parse(content: bytes) -> ParsedStatement:
    return parse_statement(content, "ofx")


# -- the reader: SGML, XML, and what banks really send -------------------------------


def test_sgml_statement_leaves_without_end_tags() -> None:
    parsed = parse((STATEMENTS / "statement.ofx").read_bytes())
    assert parsed.kind == "OFX bank statement"
    assert [(ln.amount, ln.direction, ln.date) for ln in parsed.lines] == [
        (15000, "credit", dt.date(2026, 6, 1)),
        (2550, "debit", dt.date(2026, 6, 2)),
        (40000, "debit", dt.date(2026, 6, 3)),
    ]
    first, _, check = parsed.lines
    assert first.account == "000123456789"
    assert first.currency == "USD"
    assert first.bank_reference == "FIT-0001"
    assert first.description == "ACME CORP Invoice 1001"
    assert first.location == "statement 1, transaction 1"
    assert first.metadata["trntype"] == "CREDIT"
    assert check.metadata["checknum"] == "1042"
    assert parsed.warnings == []


def test_xml_statement() -> None:
    content = (
        f"{XML_HEADER}<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE>"
        "<SEVERITY>INFO</SEVERITY></STATUS></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1>"
        "<STMTTRNRS><TRNUID>1</TRNUID><STMTRS><CURDEF>EUR</CURDEF><BANKACCTFROM>"
        "<BANKID>1</BANKID><ACCTID>NL91ABNA0417164300</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE>"
        "</BANKACCTFROM><BANKTRANLIST><STMTTRN><TRNTYPE>CREDIT</TRNTYPE>"
        "<DTPOSTED>20260601</DTPOSTED><TRNAMT>12.50</TRNAMT><FITID>X-1</FITID>"
        "<MEMO></MEMO><NAME>Salary</NAME><REFNUM>R9</REFNUM></STMTTRN></BANKTRANLIST>"
        "<LEDGERBAL><BALAMT>12.50</BALAMT><DTASOF>20260601</DTASOF></LEDGERBAL>"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    ).encode()
    (line,) = parse(content).lines
    assert (line.amount, line.direction, line.account) == (1250, "credit", "NL91ABNA0417164300")
    assert line.description == "Salary"
    assert line.metadata["refnum"] == "R9"


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_junk_before_the_header_and_any_line_ends(newline: str) -> None:
    text = "\n\n  junk from a download page\n" + sgml(bank(trn())).decode()
    content = text.replace("\n", newline).encode()
    assert [ln.amount for ln in parse(content).lines] == [1000]


def test_lower_case_tags() -> None:
    assert [ln.amount for ln in parse(sgml(bank(trn())).lower()).lines] == [1000]


def test_comments_are_not_read() -> None:
    content = sgml(bank(trn("-1.00", fitid="A1"), "<!-- " + trn("-2.00", fitid="A2") + " -->"))
    assert [ln.amount for ln in parse(content).lines] == [100]


def test_entities_are_decoded() -> None:
    (line,) = parse(sgml(bank(trn(extra=" AT&amp;T &lt;3 &#233;")))).lines
    assert line.description == "SHOP AT&T <3 é"


def test_a_bare_ampersand_is_text_not_an_html_entity() -> None:
    (line,) = parse(sgml(bank(trn(extra=" AT&T M&S Print&copy &notice &#0; &#xD800;")))).lines
    assert line.description == "SHOP AT&T M&S Print&copy &notice &#0; &#xD800;"


def test_entities_escaped_twice_are_decoded() -> None:
    (line,) = parse(sgml(bank(trn(extra=" TPAY &amp;lt;DEFTPYMT&amp;gt;")))).lines
    assert line.description == "SHOP TPAY <DEFTPYMT>"


def test_cp1252_file_declared_1252() -> None:
    content = sgml(bank(trn(extra="é"))).replace("é".encode(), b"\xe9")
    assert parse(content).lines[0].description == "SHOPé"


def test_utf8_file_declared_1252_is_read_as_utf8() -> None:
    (line,) = parse(sgml(bank(trn(extra=" São Paulo")))).lines
    assert line.description == "SHOP São Paulo"


def test_xml_encoding_declaration() -> None:
    text = (
        '<?xml version="1.0" encoding="ISO-8859-2"?><OFX><BANKMSGSRSV1>'
        + bank(trn(extra=" Łódź"))
        + "</BANKMSGSRSV1></OFX>"
    )
    assert parse(text.encode("iso-8859-2")).lines[0].description == "SHOP Łódź"


@pytest.mark.parametrize("charset", ["zlib", "hex", "punycode", "rot13", "nonsense"])
def test_a_declared_charset_that_is_no_character_set_is_ignored(charset: str) -> None:
    header = SGML_HEADER.replace("CHARSET:1252", f"CHARSET:{charset}")
    content = sgml(bank(trn(extra="é")), header=header).replace("é".encode(), b"\xe9")
    assert parse(content).lines[0].description == "SHOPé"


def test_a_false_utf8_declaration_falls_back_with_a_warning() -> None:
    header = SGML_HEADER.replace("ENCODING:USASCII", "ENCODING:UTF-8")
    content = sgml(bank(trn(extra="é")), header=header).replace("é".encode(), b"\xe9")
    parsed = parse(content)
    assert parsed.lines[0].description == "SHOPé"
    assert any("not valid utf-8" in warning for warning in parsed.warnings)


def test_utf16_with_and_without_bom() -> None:
    text = sgml(bank(trn(extra=" Zürich"))).decode()
    for content in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-16-be")):
        assert parse(content).lines[0].description == "SHOP Zürich"


def test_cdata_values() -> None:
    (line,) = parse(sgml(bank(trn(extra=" <![CDATA[A<B & C]]>")))).lines
    assert line.description == "SHOP A<B & C"


def test_two_ofx_documents_in_one_file() -> None:
    content = sgml(bank(trn(), account="A-1")) + b"\n" + sgml(bank(trn(), account="A-2"))
    assert [ln.account for ln in parse(content).lines] == ["A-1", "A-2"]


def test_an_ofx_element_with_attributes() -> None:
    content = sgml(bank(trn())).replace(b"<OFX>", b'<OFX xmlns="http://ofx.net/ifx/2.0">')
    assert len(parse(content).lines) == 1


def test_an_sgml_leaf_left_empty_keeps_its_siblings() -> None:
    content = sgml(
        bank(
            "<STMTTRN><TRNTYPE>DEBIT<MEMO><DTPOSTED>20260601<TRNAMT>-3<FITID>E1<NAME>Shop</STMTTRN>"
        )
    )
    (line,) = parse(content).lines
    assert (line.amount, line.description) == (300, "Shop")


def test_a_missing_stmttrn_end_tag_ends_it_at_the_next_one() -> None:
    broken = trn("-1.00", fitid="B1").replace("</STMTTRN>", "") + trn("-2.00", fitid="B2")
    assert [ln.amount for ln in parse(sgml(bank(broken))).lines] == [100, 200]


def test_a_file_without_any_end_tags() -> None:
    content = (
        f"{SGML_HEADER}<OFX>\n<SIGNONMSGSRSV1>\n<SONRS>\n<STATUS>\n<CODE>0\n<SEVERITY>INFO\n"
        "<DTSERVER>20260319\n<BANKMSGSRSV1>\n<STMTTRNRS>\n<TRNUID>1\n<STATUS>\n<CODE>0\n"
        "<STMTRS>\n<CURDEF>USD\n<BANKACCTFROM>\n<BANKID>1\n<ACCTID>777\n<BANKTRANLIST>\n"
        "<STMTTRN>\n<TRNAMT>25.00\n<DTPOSTED>20260301\n<FITID>A-1\n<STMTTRN>\n<TRNAMT>-5\n"
        "<DTPOSTED>20260302\n<FITID>A-2\n<LEDGERBAL>\n<BALAMT>20.00\n<DTASOF>20260302\n"
    ).encode()
    parsed = parse(content)
    assert [(ln.amount, ln.direction, ln.account) for ln in parsed.lines] == [
        (2500, "credit", "777"),
        (500, "debit", "777"),
    ]
    assert parsed.warnings == []  # its LEDGERBAL is found: the last STMTTRN ended before it
    mercury = parse((CORPUS / "ofx" / "govcraft-ofx-rs" / "mercury-checking.ofx").read_bytes())
    total = sum(ln.amount if ln.direction == "credit" else -ln.amount for ln in mercury.lines)
    assert (len(mercury.lines), total) == (674, 114986)  # = its LEDGERBAL, from zero


def test_nesting_is_bounded_without_recursion() -> None:
    deep = b"<OFX>" + b"<A><B>" * 100_000
    with pytest.raises(StatementError) as caught:
        parse(deep)
    assert "deep" in caught.value.message


# Not a measurement (that is ``make bench``'s) but a hang guard: a reader that is quadratic
# in these inputs runs for hours, a linear one for a fraction of a second on any machine.
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "content",
    [
        b"<OFX>" + b"<" * 1_000_000 + b">",
        b"<OFX>" + b"<!--" * 250_000,
        b"<OFX><STMTRS><BANKTRANLIST><STMTTRN><TRNAMT>" + b"1" * 100_000 + b"x",
        b"<OFX><STMTRS><BANKTRANLIST><STMTTRN><TRNAMT>1<DTPOSTED>2026" + b"1" * 100_000,
    ],
)
def test_pathological_input_is_refused_quickly(content: bytes) -> None:
    with pytest.raises(StatementError):
        parse(content)


def test_element_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ofx_module, "ELEMENTS_MAX", 50)
    with pytest.raises(StatementError) as caught:
        parse(sgml(bank(*(trn(fitid=f"F{i}") for i in range(20)))))
    assert caught.value.message == "the OFX file is too large: more than 50 elements; split it"


# -- statements ---------------------------------------------------------------------


def test_credit_card_and_several_statements() -> None:
    card = (
        "</BANKMSGSRSV1><CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>2<CCSTMTRS><CURDEF>USD"
        "<CCACCTFROM><ACCTID>4111</CCACCTFROM><BANKTRANLIST>"
        + trn("25.00", fitid="C1")
        + "</BANKTRANLIST><LEDGERBAL><BALAMT>1<DTASOF>20260601</LEDGERBAL></CCSTMTRS>"
        "</CCSTMTTRNRS></CREDITCARDMSGSRSV1><BANKMSGSRSV1>"
    )
    parsed = parse(sgml(bank(trn(), account="A-1"), card, bank(trn(), account="A-2")))
    assert parsed.kind == "OFX bank statement, OFX credit card statement"
    assert [(ln.account, ln.location) for ln in parsed.lines] == [
        ("A-1", "statement 1, transaction 1"),
        ("4111", "statement 2, transaction 1"),
        ("A-2", "statement 3, transaction 1"),
    ]


def test_a_statement_left_open_does_not_take_the_next_ones_lines() -> None:
    card = (
        "<CCSTMTRS><CURDEF>EUR<CCACCTFROM><ACCTID>4111</CCACCTFROM><BANKTRANLIST>"
        + trn("-2.00", fitid="C-2")
        + "</BANKTRANLIST></CCSTMTRS>"
    )
    content = sgml(bank(trn("-1.00")).replace("</STMTRS>", card))
    lines = parse(content).lines
    assert [(ln.account, ln.amount, ln.currency) for ln in lines] == [
        ("12345", 100, "USD"),
        ("4111", 200, "EUR"),
    ]


def test_several_transaction_lists_are_merged_with_a_warning() -> None:
    parsed = parse(sgml(bank(trn(), lists=2)))
    assert len(parsed.lines) == 2
    assert "2 transaction lists" in parsed.warnings[0]


def test_a_missing_ledgerbal_is_tolerated_with_a_warning() -> None:
    parsed = parse(sgml(bank(trn(), tail="")))
    assert len(parsed.lines) == 1
    assert parsed.warnings == ["statement 1 has no LEDGERBAL (closing balance)"]


def test_bank_ids_of_any_length() -> None:
    content = sgml(bank(trn())).replace(b"<BANKID>999", b"<BANKID>" + b"1" * 40)
    parsed = parse(content)
    assert parsed.lines[0].metadata["bank_id"] == "1" * 40
    assert parsed.warnings == [
        "statement 1: BANKID has 40 characters, more than the 9 OFX allows; read as given"
    ]
    assert parse(sgml(bank(trn()))).warnings == []


def test_payee_name_memo_and_placeholder_fitid() -> None:
    content = sgml(
        bank(
            "<STMTTRN><TRNTYPE>CHECK<DTPOSTED>20260601<TRNAMT>-5<FITID>0<CHECKNUM>77<REFNUM>R1"
            "<PAYEE><NAME>Landlord<ADDR1>Street 1</PAYEE><MEMO>Rent June</STMTTRN>"
        )
    )
    (line,) = parse(content).lines
    assert line.bank_reference is None  # "0" is no reference
    assert line.description == "Landlord Rent June"
    assert line.metadata["checknum"] == "77"
    assert line.metadata["refnum"] == "R1"
    assert line.metadata["counterparty"] == "Landlord"


def test_long_values_are_cut_for_the_metadata() -> None:
    (line,) = parse(sgml(bank(trn(extra="x" * 5000)))).lines
    assert len(line.metadata["counterparty"]) == ofx_module.METADATA_VALUE_MAX
    assert line.description is not None
    assert len(line.description) == 1000


def test_a_memo_repeating_the_name_is_not_doubled() -> None:
    content = sgml(bank(trn(extra="  CITICORP CH<MEMO>SHOP CITICORP CHOICE /0001")))
    assert parse(content).lines[0].description == "SHOP CITICORP CHOICE /0001"


def test_currency_aggregate_puts_the_line_in_that_currency() -> None:
    content = sgml(
        bank(trn("-1500", extra="</NAME><CURRENCY><CURRATE>0.0064<CURSYM>JPY</CURRENCY>"))
    )
    (line,) = parse(content).lines
    assert (line.amount, line.currency, line.decimal_places) == (1500, "JPY", 0)
    assert line.metadata["currency_rate"] == "0.0064"
    assert line.metadata["statement_currency"] == "USD"


def test_a_bad_currency_code_is_not_used() -> None:
    parsed = parse(sgml(bank(trn(), currency="US DOLLAR")))
    assert parsed.lines[0].currency is None
    assert "CURDEF 'US DOLLAR' is not a currency code" in parsed.warnings[0]
    content = sgml(bank(trn(extra="</NAME><CURRENCY><CURRATE>1<CURSYM>EURO</CURRENCY>")))
    parsed = parse(content)
    assert parsed.lines[0].currency == "USD"
    assert parsed.warnings == [
        "statement 1, transaction 1: CURRENCY/CURSYM is not a currency code; ignored"
    ]


def test_origcurrency_keeps_the_statement_currency() -> None:
    content = sgml(
        bank(trn("-9.60", extra="</NAME><ORIGCURRENCY><CURRATE>0.0064<CURSYM>JPY</ORIGCURRENCY>"))
    )
    (line,) = parse(content).lines
    assert (line.amount, line.currency) == (960, "USD")
    assert line.metadata["original_currency"] == "JPY"


@pytest.mark.parametrize(
    ("written", "amount", "direction"),
    [
        ("-12.34", 1234, "debit"),
        ("+12.34", 1234, "credit"),
        ("12,34", 1234, "credit"),
        (" 12.34 ", 1234, "credit"),
        (".5", 50, "credit"),
        ("-.5", 50, "debit"),
        ("1,234.56", 123456, "credit"),
        ("-1.234,56", 123456, "debit"),
        ("-00000000001500.0000", 150000, "debit"),
    ],
)
def test_amount_formats(written: str, amount: int, direction: str) -> None:
    (line,) = parse(sgml(bank(trn(written)))).lines
    assert (line.amount, line.direction) == (amount, direction)


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("12.3456789012345678901", "more than 18 decimals"),
        ("$12", "not an amount"),
        ("1e3", "not an amount"),
    ],
)
def test_bad_amounts_name_the_transaction(written: str, words: str) -> None:
    with pytest.raises(StatementError) as caught:
        parse(sgml(bank(trn(), trn(written, fitid="F2"))))
    assert caught.value.details["location"] == "statement 1, transaction 2"
    assert words in caught.value.message


def test_an_amount_finer_than_its_currency_is_kept_exactly() -> None:
    # Brokerages give a fund's cash lines in 4 decimals (Fidelity: 115.8331 USD).
    parsed = parse(sgml(bank(trn("+115.8331"), trn("-1500.0000", fitid="FIT-2"))))
    assert [(ln.amount, ln.decimal_places) for ln in parsed.lines] == [(1158331, 4), (150000, 2)]
    assert parsed.warnings == [
        "statement 1, transaction 1: TRNAMT +115.8331 has more decimals than USD (2); kept"
        " exactly, with 4 decimal places"
    ]


def test_a_missing_amount_names_the_transaction() -> None:
    with pytest.raises(StatementError) as caught:
        parse(sgml(bank(trn().replace("<TRNAMT>-10.00", ""))))
    assert caught.value.message == "statement 1, transaction 1: TRNAMT (the amount) is missing"


@pytest.mark.parametrize(
    ("written", "date"),
    [
        ("20231002000000[+10:AEST]", dt.date(2023, 10, 2)),
        ("20231002230000.000[-5:EST]", dt.date(2023, 10, 2)),
        ("20231002", dt.date(2023, 10, 2)),
        ("202310021200", dt.date(2023, 10, 2)),
        ("20231002120000[-3]", dt.date(2023, 10, 2)),
        ("20231002120000[+5.30:IST]", dt.date(2023, 10, 2)),
        ("20231002120000:014", dt.date(2023, 10, 2)),
        ("20231002000000[0:GMT]", dt.date(2023, 10, 2)),
        ("20231002000000.000[-03:EST]", dt.date(2023, 10, 2)),
    ],
)
def test_the_booking_date_is_the_date_as_written(written: str, date: dt.date) -> None:
    assert parse(sgml(bank(trn(date=written)))).lines[0].date == date


def test_dtuser_stands_in_for_a_missing_dtposted_with_a_warning() -> None:
    content = sgml(bank(trn().replace("<DTPOSTED>20260601", "<DTUSER>20260530")))
    parsed = parse(content)
    assert parsed.lines[0].date == dt.date(2026, 5, 30)
    assert "statement 1, transaction 1 has no DTPOSTED" in parsed.warnings[0]


def test_an_account_in_another_acctfrom_is_used_with_a_warning() -> None:
    content = sgml(bank(trn())).replace(b"BANKACCTFROM>", b"CCACCTFROM>")
    parsed = parse(content)
    assert parsed.lines[0].account == "12345"
    assert parsed.warnings == ["statement 1 names its account in CCACCTFROM, not BANKACCTFROM"]


@pytest.mark.parametrize("written", ["20230230", "2023", "****", "20231002 nonsense", ""])
def test_invalid_dates_name_the_transaction(written: str) -> None:
    with pytest.raises(StatementError) as caught:
        parse(sgml(bank(trn(date=written))))
    assert caught.value.details["location"] == "statement 1, transaction 1"
    assert "DTPOSTED" in caught.value.message


def test_investment_cash_lines_imported_and_trades_skipped() -> None:
    content = sgml(
        "</BANKMSGSRSV1><INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<INVSTMTRS><DTASOF>20260601"
        "<CURDEF>USD<INVACCTFROM><BROKERID>fidelity.com<ACCTID>X123</INVACCTFROM><INVTRANLIST>"
        "<DTSTART>20260501<DTEND>20260601"
        "<BUYSTOCK><INVBUY><INVTRAN><FITID>T1<DTTRADE>20260502</INVTRAN><SECID><UNIQUEID>1"
        "<UNIQUEIDTYPE>CUSIP</SECID><UNITS>10<UNITPRICE>1.234567<TOTAL>-12.34567"
        "<SUBACCTSEC>CASH<SUBACCTFUND>CASH</INVBUY><BUYTYPE>BUY</BUYSTOCK>"
        "<INVBANKTRAN>" + trn("250.00", fitid="C9") + "<SUBACCTFUND>CASH</INVBANKTRAN>"
        "<REINVEST><INVTRAN><FITID>T2<DTTRADE>20260503</INVTRAN><TOTAL>-1</REINVEST>"
        "</INVTRANLIST></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1><BANKMSGSRSV1>"
    )
    parsed = parse(content)
    assert parsed.kind == "OFX investment statement"
    (line,) = parsed.lines
    assert (line.amount, line.direction, line.account) == (25000, "credit", "X123")
    assert line.metadata["subacctfund"] == "CASH"
    assert [(s.location, s.reason) for s in parsed.skipped] == [
        ("statement 1, transaction 1", "not_a_transaction"),
        ("statement 1, transaction 3", "not_a_transaction"),
    ]
    assert parsed.skipped[0].detail == (
        "an investment transaction BUYSTOCK, not a cash line (FITID T1)"
    )
    assert "REINVEST" in (parsed.skipped[1].detail or "")


def test_investment_files_do_not_crash() -> None:
    for name in ("fidelity.ofx", "vanguard401k.ofx", "investment_401k.ofx", "tiaacref.ofx"):
        parsed = parse((CORPUS / "ofx" / "ofxparse" / name).read_bytes())
        assert parsed.kind == "OFX investment statement"
        assert parsed.skipped


def test_pending_list_and_zero_amounts_are_skipped() -> None:
    pending = (
        "<BANKTRANLISTP><DTASOF>20260601"
        + trn("-7", fitid="P1").replace("STMTTRN>", "STMTTRNP>")
        + "</BANKTRANLISTP>"
    )
    parsed = parse(
        sgml(
            bank(
                trn(),
                trn("0.00", fitid="Z"),
                tail=pending + "<LEDGERBAL><BALAMT>0<DTASOF>20260601</LEDGERBAL>",
            )
        )
    )
    assert len(parsed.lines) == 1
    assert [(s.location, s.reason) for s in parsed.skipped] == [
        ("statement 1, transaction 2", "zero_amount"),
        ("statement 1, transaction 3", "pending"),
    ]


# -- what is not a statement -----------------------------------------------------------


def test_wrong_password_is_a_bank_error_response() -> None:
    content = (
        f"{SGML_HEADER}<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR"
        "<MESSAGE>Invalid user ID or password</STATUS><DTSERVER>20260601</SONRS>"
        "</SIGNONMSGSRSV1></OFX>"
    ).encode()
    with pytest.raises(BankErrorResponse) as caught:
        parse(content)
    assert caught.value.details == {
        "status_code": "15500",
        "severity": "ERROR",
        "bank_message": "Invalid user ID or password",
    }
    assert caught.value.message == (
        "the OFX file is the bank's error response, not a statement: status 15500, the"
        " sign-on is invalid (wrong user id or password), severity ERROR; the bank says:"
        " Invalid user ID or password"
    )
    assert caught.value.status_code == 422


def test_statement_transaction_error_is_a_bank_error_response() -> None:
    content = sgml("<STMTTRNRS><TRNUID>1<STATUS><CODE>2000<SEVERITY>ERROR</STATUS></STMTTRNRS>")
    with pytest.raises(BankErrorResponse) as caught:
        parse(content)
    assert caught.value.details == {
        "status_code": "2000",
        "severity": "ERROR",
        "bank_message": None,
    }


def test_an_error_beside_a_statement_is_a_warning() -> None:
    failed = "<STMTTRNRS><TRNUID>2<STATUS><CODE>2003<SEVERITY>ERROR</STATUS></STMTTRNRS>"
    parsed = parse(sgml(bank(trn()), failed))
    assert len(parsed.lines) == 1
    assert any("2003" in warning for warning in parsed.warnings)


def test_no_statement_and_no_error_is_refused() -> None:
    with pytest.raises(StatementError) as caught:
        parse(sgml(""))
    assert caught.value.message == (
        "the OFX file holds no statement (no STMTRS, CCSTMTRS or INVSTMTRS)"
    )


def test_no_statement_and_a_warning_status_is_refused_naming_it() -> None:
    content = sgml("<STMTTRNRS><TRNUID>1<STATUS><CODE>2028<SEVERITY>WARN</STATUS></STMTTRNRS>")
    with pytest.raises(StatementError) as caught:
        parse(content)
    assert caught.value.message.endswith("the bank reported status 2028 (WARN)")


@pytest.mark.parametrize(
    "content", [b"", b"hello", b"Date,Amount\n2026-06-01,12\n", b"\x00\xff" * 10, b":20:X\n"]
)
def test_not_ofx_is_refused_in_plain_words(content: bytes) -> None:
    with pytest.raises(StatementError) as caught:
        parse(content)
    assert caught.value.message == "this is not an OFX file: it has no <OFX> element"


def test_the_reader_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        parse((STATEMENTS / "statement.ofx").read_bytes())
    assert caplog.records == []


# -- any input ----------------------------------------------------------


SEED = (STATEMENTS / "statement.ofx").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(
            lambda cut, junk, at: SEED[:at] + junk + SEED[at + cut :],
            st.integers(0, 200),
            st.binary(max_size=50),
            st.integers(0, len(SEED)),
        ),
        st.builds(
            lambda tags: ("<OFX>" + "".join(tags)).encode(),
            st.lists(
                st.sampled_from(
                    [
                        "<STMTRS>",
                        "</STMTRS>",
                        "<STMTTRN>",
                        "</STMTTRN>",
                        "<TRNAMT>1",
                        "<DTPOSTED>20260101",
                        "<BANKTRANLIST>",
                        "<CURDEF>XXX",
                        "<INVTRANLIST>",
                        "<INVBANKTRAN>",
                        "<BUYSTOCK>",
                        "<STATUS>",
                        "<CODE>1",
                        "<SEVERITY>ERROR",
                        "<SONRS>",
                        "</SONRS>",
                        "<!--",
                        "-->",
                        "<![CDATA[",
                        "&amp;",
                        "<",
                        ">",
                        "<BANKTRANLISTP>",
                        "<CURRENCY><CURSYM>JPY",
                        "<TRNAMT>.5",
                        "</OFX>",
                    ]
                ),
                max_size=60,
            ),
        ),
    )
)
def test_any_input_gives_a_statement_or_a_clear_refusal(content: bytes) -> None:
    refusal: StatementError | BankErrorResponse | None = None
    try:
        parsed = parse(content)
    except (StatementError, BankErrorResponse) as e:
        refusal = e
    if refusal is not None:
        assert refusal.message
        assert "object at 0x" not in refusal.message
    else:
        assert all(line.amount > 0 for line in parsed.lines)
