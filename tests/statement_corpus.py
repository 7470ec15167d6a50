"""The corpus of real bank statement files (``tests/fixtures/statements/corpus``).

Each format has a manifest ``<format>.json``: one object per file, with the numbers a correct
import must give — ``lines`` (imported lines), ``sums`` (signed sum per currency, credit +:
an integer in minor units of the currency, or a decimal string where lines are finer than
the currency), ``accounts``, ``skipped`` — or ``refused`` (``status`` and ``code``) for a
file that is not a statement. The numbers were computed from the raw files without our
parsers (``independent`` says how), and cross-checked with the files' own balances where
they carry them. Each file's ``source`` and ``licence`` say where it comes from; the
source's licence text lies beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger.importers.common import precision_of

CORPUS = Path(__file__).parent / "fixtures" / "statements" / "corpus"
# Manifest name → the ``format`` form field.
MANIFEST_FORMATS = {"ofx": "ofx", "mt940": "mt940", "camt": "camt053", "camt053": "camt053"}


@dataclass(frozen=True)
class CorpusFile:
    format: str
    path: Path
    entry: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.path.relative_to(CORPUS))

    @property
    def refused(self) -> dict[str, Any] | None:
        refused: dict[str, Any] | None = self.entry.get("refused")
        return refused


def corpus_files() -> list[CorpusFile]:
    files = []
    for manifest in sorted(CORPUS.glob("*.json")):
        fmt = MANIFEST_FORMATS[manifest.stem]
        for entry in json.loads(manifest.read_text()):
            files.append(CorpusFile(fmt, CORPUS / entry["file"], entry))
    return files


def signed(amount: int, direction: str, decimal_places: int) -> Decimal:
    """A line's amount as an exact signed decimal (credit +)."""
    value = Decimal(amount).scaleb(-decimal_places)
    return value if direction == "credit" else -value


def expected_sums(entry: dict[str, Any]) -> dict[str, Decimal]:
    """The manifest's non-zero sums as exact decimals."""
    sums: dict[str, Decimal] = {}
    for currency, value in entry["sums"].items():
        exact = (
            Decimal(value)
            if isinstance(value, str)
            else Decimal(value).scaleb(-precision_of(currency, 2))
        )
        if exact:
            sums[currency] = exact
    return sums
