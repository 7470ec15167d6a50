"""Every importer error is a human sentence (issue 12, item 4: an MT940 error once carried
an object repr with a memory address, ``<... object at 0x7f...>``).

Hypothesis mutates real statement files (the MT940 corpus, with the tokens that steer the
MT940 reader: field tags, debit/credit marks, amounts, dates, SWIFT blocks; and the other
formats' samples) and runs them through everything an import does before writing: the
parser (``parse_statement``) and the record each line becomes (``record_input`` and
``check_record_input``). Each outcome is lines, or a ``LedgerError`` whose message and
details hold no object repr, no traceback and no type name in angle brackets; anything else
(a crash) fails the test.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.commands.records import check_record_input
from ledger.commands.statement_import import record_input
from ledger.errors import LedgerError
from ledger.importers import ParsedStatement, StatementError, parse_statement
from ledger.importers.common import exact_minor_units, minor_units

STATEMENTS: Final = Path(__file__).parents[1] / "fixtures" / "statements"
MT940_FILES: Final = sorted(
    p
    for p in (STATEMENTS / "corpus" / "mt940").rglob("*")
    if p.is_file() and not p.name.startswith("LICENSE") and p.suffix not in (".json", ".md")
)
OTHER_FILES: Final = {
    "statement.ofx": "ofx",
    "statement.camt053.xml": "camt053",
    "statement.mt940": "mt940",
}
# Tokens that make the MT940 reader take its other paths.
TOKENS: Final = [
    b":61:", b":86:", b":60F:", b":62F:", b":90D:", b":90C:", b":28C:", b":25:", b":20:",
    b":34F:", b"C", b"D", b"RC", b"RD", b"EC", b"ED", b",", b".", b"\n", b"\r\n", b" ",
    b"0", b"9", b"260230", b"261301", b"NTRF", b"NONREF", b"//", b"?20", b"?32", b"835",
    b"/NAME/", b"-}", b"{4:", b"{1:F01", b"EUR", b"\xff", b"\x00", b"99999999999999999999,99",
]  # fmt: skip
REPR: Final = re.compile(r"object at 0x|0x[0-9a-fA-F]{6,}|<[\w.]+ object|Traceback|<class ")

edits = st.lists(
    st.tuples(
        st.floats(0, 1),  # where
        st.integers(0, 12),  # how many bytes to cut there
        st.lists(st.sampled_from(TOKENS), max_size=4),  # what to put in their place
    ),
    min_size=1,
    max_size=6,
)


def mutated(content: bytes, changes: list[tuple[float, int, list[bytes]]]) -> bytes:
    data = bytearray(content)
    for where, cut, tokens in changes:
        at = int(where * len(data))
        data[at : at + cut] = b"".join(tokens)
    return bytes(data)


def texts(value: Any) -> list[str]:
    """Every text in ``value`` (details nest dicts and lists)."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (str(k), *texts(v))]
    if isinstance(value, list | tuple):
        return [t for v in value for t in texts(v)]
    return [value] if isinstance(value, str) else []


def imported(content: bytes, fmt: str) -> ParsedStatement | LedgerError:
    """Import ``content`` up to the writes: its lines, or the error (any other fails)."""
    try:
        parsed = parse_statement(content, fmt)
        for i, line in enumerate(parsed.lines):
            check_record_input(record_input(line, "bank"), f"$.file[{i}]")
    except LedgerError as e:
        return e
    return parsed


def assert_sentences(content: bytes, fmt: str) -> None:
    """Lines, or an error in plain words; no warning or skip reason shows an object."""
    result = imported(content, fmt)
    if isinstance(result, LedgerError):
        assert 400 <= result.status_code < 500
        assert result.message
        assert result.message == result.message.strip()
        shown = [result.message, *texts(result.details)]
    else:
        shown = [*result.warnings, *(s.detail or "" for s in result.skipped)]
    for text in shown:
        assert not REPR.search(text), text


def test_the_corpus_is_there() -> None:
    assert len(MT940_FILES) > 100


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MT940_FILES), edits)
def test_a_damaged_mt940_file_never_shows_an_object(
    path: Path, changes: list[tuple[float, int, list[bytes]]]
) -> None:
    assert_sentences(mutated(path.read_bytes(), changes), "mt940")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(OTHER_FILES)), edits)
def test_a_damaged_statement_of_any_format_never_shows_an_object(
    name: str, changes: list[tuple[float, int, list[bytes]]]
) -> None:
    assert_sentences(mutated((STATEMENTS / name).read_bytes(), changes), OTHER_FILES[name])


def test_the_repr_pattern_sees_a_repr() -> None:
    # Negative control for the pattern the tests above rely on.
    assert REPR.search(f"bad value {object()}")
    assert not REPR.search("statement 1 (STMT1), entry 2 (line 6): the :61: field is bad")


class _ReaderValue:
    """A reader library's value object: its default repr carries a memory address."""


def test_an_amount_that_is_no_text_is_named_not_shown() -> None:
    # The readers' amount conversion once put a value object's repr into the message
    # ("<... object at 0x7f...> is not an amount").
    for convert in (minor_units, exact_minor_units):
        with pytest.raises(StatementError) as caught:
            convert(_ReaderValue(), 2)  # type: ignore[arg-type]
        assert not REPR.search(caught.value.message), caught.value.message
        assert caught.value.message == "the value is not an amount"


def test_an_unreadable_amount_is_quoted_and_cut() -> None:
    with pytest.raises(StatementError) as caught:
        minor_units("x" * 100, 2)
    assert caught.value.message == f"'{'x' * 40}…' is not an amount"
    with pytest.raises(StatementError) as caught:
        minor_units(Decimal("NaN"), 2)
    assert caught.value.message == "'NaN' is not an amount"
    with pytest.raises(StatementError) as caught:
        minor_units("1.234", 2)
    assert caught.value.message == "'1.234' has more than 2 decimals"
