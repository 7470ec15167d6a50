"""MT940/MT942 importer rules (no database): direction, accounts, references, MT942, layouts,
balance checks, messages, and the corpus of real sample files."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.importers import BankErrorResponse, StatementError, parse_statement
from ledger.importers.mt940 import parse_mt940

STATEMENTS = Path(__file__).parent.parent / "fixtures" / "statements"
CORPUS = STATEMENTS / "corpus"


def mt940(*lines: str, opening: str = "C260601EUR100,00", closing: str | None = None) -> bytes:
    """A one-statement MT940 with the given :61:/:86: lines."""
    body = [":20:STMT1", ":25:NL91ABNA0417164300", ":28C:1/1", f":60F:{opening}", *lines]
    if closing:
        body.append(f":62F:{closing}")
    return ("\n".join([*body, "-"]) + "\n").encode()


def parse(content: bytes) -> list[tuple[int, str]]:
    return [(ln.amount, ln.direction) for ln in parse_mt940(content, 2).lines]


# -- direction from the :61: debit/credit mark ------------------------------------------


def test_direction_comes_from_the_mark_reversals_included() -> None:
    content = mt940(
        ":61:2606010601C10,00NTRFNONREF",
        ":61:2606010601D20,00NTRFNONREF",
        ":61:2606010601RC30,00NTRFNONREF",
        ":61:2606010601RD40,00NTRFNONREF",
        ":61:2606010601rc5,00NTRFNONREF",
        closing="C260601EUR95,00",
    )
    parsed = parse_mt940(content, 2)
    assert [(ln.amount, ln.direction) for ln in parsed.lines] == [
        (1000, "credit"),
        (2000, "debit"),
        (3000, "debit"),  # reversal of a credit: money leaves the account
        (4000, "credit"),  # reversal of a debit: money comes back
        (500, "debit"),
    ]
    assert [ln.metadata.get("reversal") for ln in parsed.lines] == [None, None, True, True, True]
    assert parsed.warnings == []  # 100 + 10 - 20 - 30 + 40 - 5 = 95: it balances


def test_a_mark_the_asn_layout_admits_but_no_bank_uses_is_refused() -> None:
    with pytest.raises(StatementError, match="no debit/credit mark"):
        parse_mt940(mt940(":61:2606010601XD1,00NTRFNONREF\nextra\nlines"), 2)


def test_expected_marks_of_an_mt942() -> None:
    content = mt940(":61:2606010601EC7,00NTRFNONREF", ":61:2606010601ED3,00NTRFNONREF")
    parsed = parse_mt940(content, 2)
    assert parsed.lines == []
    assert [(s.reason, s.detail) for s in parsed.skipped] == [
        ("pending", "an expected credit (EC), not booked yet"),
        ("pending", "an expected debit (ED), not booked yet"),
    ]


def test_a_real_file_balances_only_with_reversals_as_the_mark_says() -> None:
    # betterplace's SEPA file has RC lines: its statements add up with RC as a debit.
    parsed = parse_mt940((CORPUS / "mt940/wolph-mt940/betterplace/sepa_mt9401.sta").read_bytes(), 2)
    reversals = [ln for ln in parsed.lines if ln.metadata.get("reversal")]
    assert reversals
    assert all(ln.direction == "debit" and ln.amount > 0 for ln in reversals)
    assert not [w for w in parsed.warnings if "closing balance" in w]


def test_zero_amounts_are_skipped_with_a_reason() -> None:
    parsed = parse_mt940(mt940(":61:2606010601C0,00NTRFNONREF", ":61:2606010601C1,00NTRF"), 2)
    assert len(parsed.lines) == 1
    assert [(s.reason, s.location) for s in parsed.skipped] == [
        ("zero_amount", "statement 1 (STMT1), entry 1 (line 5)")
    ]


def test_more_decimals_than_the_currency_has_is_an_error() -> None:
    with pytest.raises(StatementError, match=r"entry 1 \(line 5\).*1,001.*more decimals"):
        parse_mt940(mt940(":61:2606010601C1,001NTRFNONREF"), 2)


def test_an_amount_with_a_decimal_point() -> None:
    content = mt940(":61:030109C000000000300.50NMSCNONREF", opening="C030106EUR000000000000.00")
    assert parse(content) == [(30050, "credit")]


# -- each line with its own statement's account -------------------------------------------


def test_each_line_carries_its_own_statements_account_and_currency() -> None:
    content = (
        b":20:A\n:25:NL91ABNA0417164300\n:28C:1/1\n:60F:C260601EUR0,00\n"
        b":61:2606010601C1,00NTRFNONREF\n:62F:C260601EUR1,00\n-\n"
        b":20:B\n:25:CH9300762011623852957\n:28C:1/1\n:60F:C260601CHF0,00\n"
        b":61:2606010601D2,00NTRFNONREF\n:62F:D260601CHF2,00\n-\n"
    )
    lines = parse_mt940(content, 2).lines
    assert [(ln.account, ln.currency, ln.metadata["statement"]) for ln in lines] == [
        ("NL91ABNA0417164300", "EUR", "A"),
        ("CH9300762011623852957", "CHF", "B"),
    ]


def test_a_real_multi_account_file() -> None:
    lines = parse_mt940((CORPUS / "mt940/wolph-mt940/jejik/rabobank.sta").read_bytes(), 2).lines
    assert {ln.account for ln in lines} == {"1291.99.348", "1526.89.184"}
    assert lines[0].account != lines[-1].account


def test_an_account_with_its_currency_appended() -> None:
    content = mt940(":61:2606010601C1,00NTRFNONREF").replace(
        b":25:NL91ABNA0417164300", b":25:NL91ABNA0417164300EUR"
    )
    line = parse_mt940(content, 2).lines[0]
    assert line.account == "NL91ABNA0417164300"
    assert line.metadata["account_identification"] == "NL91ABNA0417164300EUR"


# -- references -----------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", ["NONREF", "NONREF   ", "EREF", "N", "X"])
def test_placeholder_references_are_not_bank_references(placeholder: str) -> None:
    lines = parse_mt940(
        mt940(
            f":61:2606010601C1,00NTRF{placeholder}//BANK-9",
            f":61:2606010601C1,00NTRFINV-77//{placeholder}",
            f":61:2606010601C1,00NTRF{placeholder}//{placeholder}",
            f":61:2606010601C1,00NTRF{placeholder}",
        ),
        2,
    ).lines
    assert [ln.bank_reference for ln in lines] == ["BANK-9", "INV-77", None, None]
    assert "customer_reference" not in lines[0].metadata


def test_the_bank_reference_after_slashes_else_a_real_customer_reference() -> None:
    lines = parse_mt940(
        mt940(
            ":61:2606010601C1,00NTRFINV-1001//BANK123",
            ":61:2606010601C1,00NTRFINV-1002",
            ":61:2606010601C1,00NTRFEREF//00000000001006",
            ":61:2606010601C1,00NTRFNONREF//NONREF",
        ),
        2,
    ).lines
    assert [ln.bank_reference for ln in lines] == ["BANK123", "INV-1002", "00000000001006", None]
    assert lines[0].metadata["customer_reference"] == "INV-1001"


# -- MT942 ----------------------------------------------------------------------------------

MT942 = (
    b"{1:F01INGBNL2AXXXX0000000000}{2:O942INGBNL2AXXXXN}{4:\n"
    b":20:INTERIM1\n:25:NL20INGB0001234567\n:28C:1\n:34F:EURC0,00\n:13D:2606011200+0100\n"
    b":61:2606010602D15,00NTRFNONREF//00000000000001\n:86:/NAME/ACME/REMI/Invoice 1\n"
    b":61:2606010601C7,50NTRFNONREF\n:86:cash\n"
    b":90D:1EUR15,00\n:90C:1EUR7,50\n-}"
)
MT940_SAME_DAY = (
    b":20:FINAL1\n:25:NL20INGB0001234567\n:28C:2\n:60F:C260531EUR100,00\n"
    b":61:2606010601C7,50NTRFNONREF\n:86:cash\n"
    b":61:2606010602D15,00NTRFNONREF//00000000000001\n:86:/NAME/ACME/REMI/Invoice 1\n"
    b":62F:C260601EUR92,50\n-"
)


def test_an_mt942_reads_like_an_mt940_with_the_same_identity() -> None:
    interim = parse_statement(MT942, "mt940")
    final = parse_statement(MT940_SAME_DAY, "mt940")
    assert (interim.kind, final.kind) == ("MT942", "MT940")
    assert interim.warnings == []
    assert final.warnings == []
    assert sorted(str(ln.external_id) for ln in interim.lines) == sorted(
        str(ln.external_id) for ln in final.lines
    )
    debit = next(ln for ln in interim.lines if ln.direction == "debit")
    assert debit.date == dt.date(2026, 6, 1)  # the value date, not the entry date
    assert debit.metadata["entry_date"] == "2026-06-02"
    assert debit.metadata["counterparty"] == "ACME"
    assert debit.account == "NL20INGB0001234567"
    assert debit.currency == "EUR"


def test_a_real_mt942_and_mt940_of_the_same_day_give_the_same_ids() -> None:
    folder = CORPUS / "mt940/wolph-mt940/mBank"
    final = parse_statement((folder / "mt940.sta").read_bytes(), "mt940")
    interim = parse_statement((folder / "mt942.sta").read_bytes(), "mt940")
    assert (final.kind, interim.kind) == ("MT940", "MT942")
    assert len(final.lines) == 3
    assert [ln.external_id for ln in interim.lines] == [ln.external_id for ln in final.lines]


def test_mt942_sums_are_checked() -> None:
    wrong = MT942.replace(b":90D:1EUR15,00", b":90D:2EUR16,00")
    warnings = parse_mt940(wrong, 2).warnings
    assert warnings == [
        "statement 1 (INTERIM1): :90D: gives 2 debit entries of 16.00 EUR, "
        "but the file has 1 of 15.00"
    ]


def test_real_mt942_files() -> None:
    for name in ("mt940/wolph-mt940/mBank/mt942.sta", "mt940/railslove-cmxl/mt942.txt"):
        parsed = parse_mt940((CORPUS / name).read_bytes(), 2)
        assert parsed.kind == "MT942"
        assert parsed.lines


# -- layouts --------------------------------------------------------------------------------


def test_asn_bank_layout_keeps_the_whole_counterparty_iban() -> None:
    parsed = parse_mt940((CORPUS / "mt940/wolph-mt940/ASNB/mt940.txt").read_bytes(), 2)
    first = parsed.lines[0]
    assert first.metadata["counterparty_account"] == "NL47INGB9999999999"
    assert first.bank_reference is None  # an IBAN is not a reference
    assert (first.amount, first.direction, first.account) == (6500, "debit", "NL81ASNB9999999999")
    assert not [w for w in parsed.warnings if "closing balance" in w]


def test_sns_lines_that_need_the_asn_layout() -> None:
    content = mt940(":61:2001010101D65,00NOVBNL47INGB9999999999\nhr gjlm paulissen")
    parsed = parse_mt940(content, 2)
    assert parse(content) == [(6500, "debit")]
    assert "ASN Bank layout" in parsed.warnings[0]


def test_ing_statement_number_over_two_lines_and_wrapped_fields() -> None:
    content = (
        b"{1:F01INGBNL2ABXXX0000000000}\n{2:I940INGBNL2AXXXN}\n{4:\n"
        b":20:P140220000000001\n:25:NL77INGB0574908765EUR\n:28C:0000\n0\n"
        b":60F:C140219EUR662,23\n"
        b":61:1402200220C1,56NTRFEREF//00000000001\n005\n/TRCD/00100/\n"
        b":86:/EREF/EV12341REP1231456T1234//CNTP/NL32INGB0000012345/INGBNL2\n"
        b"-\nA/ING BANK NV INZAKE WEB///REMI/USTD//EV10001REP1000000T1000/\n"
        b":62F:C140220EUR663,79\n:86:/SUM/1/0/1,56/0,/\n-}\n"
    )
    parsed = parse_mt940(content, 2)
    assert [(ln.amount, ln.direction, ln.account) for ln in parsed.lines] == [
        (156, "credit", "NL77INGB0574908765")
    ]
    assert "INZAKE WEB" in (parsed.lines[0].description or "")  # the "-" line is :86: text
    assert "/SUM/" not in (parsed.lines[0].description or "")  # the statement's own :86:
    assert any("runs over two lines" in w for w in parsed.warnings)
    assert not [w for w in parsed.warnings if "closing balance" in w]


def test_swift_blocks_several_messages_crlf_and_trailing_junk() -> None:
    message = (
        "{1:F01ABNANL2AXXXX0000000000}{2:O940ABNANL2AXXXXN}{3:}{4:\r\n"
        ":20:REF@\r\n:25:NL91ABNA0417164300\r\n:28C:@/1\r\n:60F:C260601EUR0,00\r\n"
        ":61:2606010601C1,00NTRFNONREF\r\n:62F:C260601EUR1,00\r\n-}{5:{CHK:123}}"
    )
    messages = "\r\n".join(message.replace("@", str(n)) for n in (1, 2))
    content = (messages + "\r\nEND OF FILE\r\n").encode()
    parsed = parse_mt940(content, 2)
    assert [ln.metadata["statement"] for ln in parsed.lines] == ["REF1", "REF2"]
    assert parsed.warnings == [
        "1 line(s) of text outside any statement field were ignored (first on line 17)"
    ]


def test_windows_1252_text_and_a_byte_order_mark() -> None:
    text = mt940(":61:2606010601C1,00NTRFNONREF", ":86:Cafe EUR 5").decode()
    content = b"\xef\xbb\xbf" + text.replace("Cafe EUR", "Caf\xe9 \x80").encode("latin-1")
    parsed = parse_mt940(content, 2)
    assert parsed.lines[0].description == "Caf\u00e9 \u20ac 5"
    assert parsed.warnings == ["the file is not UTF-8; it was read as Windows-1252 text"]


def test_the_old_fixture_still_reads() -> None:
    parsed = parse_statement((STATEMENTS / "statement.mt940").read_bytes(), "mt940")
    assert [(ln.amount, ln.direction, ln.bank_reference) for ln in parsed.lines] == [
        (15000, "credit", "BANKREF1"),
        (2550, "debit", "BANKREF2"),
        (9999, "credit", None),
    ]
    assert parsed.warnings == []
    assert parsed.kind == "MT940"


# -- balance check --------------------------------------------------------------------------


def test_a_statement_that_does_not_add_up_is_a_warning() -> None:
    content = mt940(":61:2606010601C10,00NTRFNONREF", closing="C260601EUR120,00")
    assert parse_mt940(content, 2).warnings == [
        "statement 1 (STMT1): opening balance 100.00 + lines 10.00 = 110.00 EUR, "
        "but the closing balance is 120.00 (a difference of 10.00)"
    ]


# -- messages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (":61:26060106X1,00NTRF", "no debit/credit mark"),
        (":61:261301C1,00NTRF", "value date 261301 that is not a date"),
        (":61:hello", "does not start with a value date"),
    ],
)
def test_errors_are_plain_words_naming_statement_and_line(line: str, words: str) -> None:
    with pytest.raises(StatementError) as error:
        parse_mt940(mt940(":61:2606010601C1,00NTRF", line), 2)
    message = str(error.value)
    assert message.startswith("statement 1 (STMT1), entry 2 (line 6): the :61: field")
    assert words in message
    assert not re.search(r"0x[0-9a-f]+|<mt940|object at|Traceback", message)
    assert error.value.details["location"] == "statement 1 (STMT1), entry 2 (line 6)"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"<?xml version='1.0'?><Document/>", "XML or OFX"),
        (b"Date;Amount\n2026-01-01;5\n", "not an MT940 or MT942"),
        (b":20:ONLY\n:25:NL91ABNA0417164300\n", "no statement lines"),
    ],
)
def test_non_statements_are_refused_in_plain_words(content: bytes, words: str) -> None:
    with pytest.raises(StatementError, match=words):
        parse_mt940(content, 2)


SAMPLE = (CORPUS / "mt940/wolph-mt940/jejik/abnamro.sta").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000) | st.text(alphabet=":0123456789CDRN,/\n-{}ABF ").map(str.encode))
def test_never_anything_but_a_statement_or_a_statement_error(content: bytes) -> None:
    with contextlib.suppress(StatementError, BankErrorResponse):
        parse_statement(content, "mt940")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_real_files_never_raise_anything_else(data: st.DataObject) -> None:
    content = bytearray(SAMPLE)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(content) - 1))
        action = data.draw(st.sampled_from(["set", "delete", "insert"]))
        byte = data.draw(st.sampled_from(b":\n-,{}RCD0123456789 \x00\xff"))
        if action == "set":
            content[at] = byte
        elif action == "delete":
            del content[at]
        else:
            content.insert(at, byte)
    with contextlib.suppress(StatementError, BankErrorResponse):
        parse_statement(bytes(content), "mt940")


def test_large_input_is_linear() -> None:
    big = mt940(*[":61:2606010601C1,00NTRFNONREF\n:86:" + "x" * 60] * 20_000)
    assert len(parse_mt940(big, 2).lines) == 20_000
    with pytest.raises(StatementError):
        parse_mt940(b":61:" + b"1" * 100_000, 2)


def test_structured_german_details_read_by_mt940() -> None:
    path = CORPUS / "mt940/wolph-mt940/self-provided/gv_codes.sta"
    line = parse_mt940(path.read_bytes(), 2).lines[0]
    assert line.metadata["counterparty"] == "PayPal (Europe) S.a.r.l. et"
    assert line.description is not None
    assert "Ihr Einkaufbei SPOTIFY" in line.description
    assert "?2" not in line.description


def test_many_balance_fields_stay_linear() -> None:
    fields = "".join(":64:C260601EUR1,00\n:60M:C260601EUR1,00\n" for _ in range(30_000))
    content = f":20:X\n:25:NL91ABNA0417164300\n{fields}:61:2606010601C1,00NTRF\n".encode()
    assert len(parse_mt940(content, 2).lines) == 1


def test_lines_after_a_message_end_without_a_header_keep_the_account() -> None:
    content = mt940(":61:2606010601C1,00NTRF", closing="C260601EUR101,00") + (
        b":61:2606020602D2,00NTRF\n:86:late line\n"
    )
    lines = parse_mt940(content, 2).lines
    assert [(ln.account, ln.currency) for ln in lines] == [("NL91ABNA0417164300", "EUR")] * 2
