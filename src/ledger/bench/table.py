"""Plain-text tables for the printed report."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.bench.registry import ResultRow


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """``headers`` and ``rows`` aligned in columns: the first left, the others right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_rows(rows: Sequence[ResultRow]) -> list[str]:
    """The default table of a scenario's rows: one line per row, its extras as columns."""
    if not rows:
        return ["(no rows)"]
    extras = sorted({key for row in rows for key in row.extra})
    headers = ["", "conc.", "ops", "rate", "unit", "p50 ms", "p99 ms", *extras]
    table = [
        [
            row.label,
            str(row.concurrency),
            f"{row.operations:,}",
            f"{row.rate:,.0f}",
            row.unit,
            f"{row.p50_ms:.2f}",
            f"{row.p99_ms:.2f}",
            *(f"{row.extra[k]:,.1f}" if k in row.extra else "" for k in extras),
        ]
        for row in rows
    ]
    return format_table(headers, table)
