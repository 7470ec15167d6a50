"""Every real statement of the corpus parses to the numbers of its manifest (no database).

See ``tests/statement_corpus.py``: the expected counts and signed sums were computed from
the raw files without these parsers. Every file must also parse the same way twice, and a
file that is not a statement must be refused with its manifest's status and code.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.errors import LedgerError
from ledger.importers import parse_statement
from ledger.importers.common import clean_account
from tests.statement_corpus import CorpusFile, corpus_files, expected_sums, signed

FILES = corpus_files()


def test_the_corpus_is_there() -> None:
    assert {f.format for f in FILES} >= {"ofx", "mt940", "camt053"}
    for f in FILES:
        assert f.path.is_file(), f.id
        for key in ("source", "licence", "independent"):
            assert f.entry[key], (f.id, key)


@pytest.mark.parametrize("corpus_file", FILES, ids=[f.id for f in FILES])
def test_a_corpus_file_parses_to_its_manifest(corpus_file: CorpusFile) -> None:
    content = corpus_file.path.read_bytes()
    refused = corpus_file.refused
    if refused is not None:
        with pytest.raises(LedgerError) as caught:
            parse_statement(content, corpus_file.format)
        assert (caught.value.status_code, caught.value.code) == (
            refused["status"],
            refused["code"],
        )
        assert "0x" not in caught.value.message  # no object reprs
        return
    parsed = parse_statement(content, corpus_file.format)
    sums: dict[str, Decimal] = {}
    for line in parsed.lines:
        assert line.amount > 0
        key = line.currency or "?"
        sums[key] = sums.get(key, Decimal(0)) + signed(
            line.amount, line.direction, line.decimal_places
        )
    entry = corpus_file.entry
    assert len(parsed.lines) == entry["lines"]
    assert {k: v for k, v in sums.items() if v} == expected_sums(entry)
    assert {ln.account for ln in parsed.lines if ln.account} == {
        clean_account(a) for a in entry["accounts"] if a
    }
    assert len(parsed.skipped) == entry.get("skipped", 0)
    ids = [ln.external_id for ln in parsed.lines]
    assert len(set(ids)) == len(ids)
    assert parse_statement(content, corpus_file.format) == parsed
