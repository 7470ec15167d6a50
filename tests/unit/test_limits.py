"""``ledger.limits``: related bounds are asserted against each other, and it is the one place
a bound is defined (every other ``*_MAX``/``*_MIN`` in ``src/ledger`` is an alias of it)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ledger import limits

LIMITS_SOURCE = Path(limits.__file__).read_text(encoding="utf-8")
PACKAGE = Path(limits.__file__).parent
# Not scanned: benchmark targets and workload sizes are measurements, not bounds of the
# service; the statement importers keep their format-specific bounds (moving them is left
# to their owner).
UNSCANNED = ("bench", "importers")
BOUND_NAME = re.compile(r"^_?[A-Z][A-Z0-9_]*_(MAX|MIN)$")


def _with_bound(name: str, value: int) -> dict[str, object]:
    """Execute limits.py with ``name`` set to ``value`` (its asserts run again)."""
    source, count = re.subn(
        rf"^{name}: Final = .*$", f"{name}: Final = {value}", LIMITS_SOURCE, flags=re.M
    )
    assert count == 1, f"{name} is not defined once in limits.py"
    namespace: dict[str, object] = {}
    exec(compile(source, limits.__file__, "exec"), namespace)  # noqa: S102 - our own source
    return namespace


def test_limits_as_shipped_satisfy_their_relations() -> None:
    assert _with_bound("PAGE_SIZE_MAX", limits.PAGE_SIZE_MAX)["PAGE_SIZE_MAX"] == 500


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "PAGE_SIZE_MAX",
            limits.READ_EVENTS_PAGE_MAX + 1,
            "an API page of events is one store read",
        ),
        ("PAGE_SIZE_DEFAULT", limits.PAGE_SIZE_MAX + 1, "the default page is a valid page size"),
        (
            "STATE_BYTES_MAX",
            limits.REQUEST_BODY_BYTES_MAX,
            "one body's event stays under the bound",
        ),
        ("RECORDS_PER_COMMAND_MAX", 100_000, "a bulk body can carry the most records"),
        ("RECORDS_BULK_BODY_BYTES_MAX", 1024, "bulk routes raise the body bound"),
        ("POOL_SIZE_MIN", limits.POOL_SIZE_MAX + 1, "the pool's minimum is a valid size"),
        ("API_KEY_CACHE_SIZE_MAX", 0, "the API key cache holds something"),
        ("API_KEY_SECRET_BYTES", 256, "every issued key is parsed"),
        ("CURRENCY_PRECISION_MAX", limits.RECORD_DECIMAL_PLACES_MAX + 1, "as fine as its currency"),
        ("MONEY_EXACT_DIGITS", 50, "is computed exactly"),
        ("JOURNAL_ENTRIES_MIN", 1, "a journal has a debit and a credit"),
        ("GROUP_SIZE_MAX", limits.GROUP_CANDIDATES_MAX + 1, "group matching funnel"),
        ("PROJECTION_BATCH_EVENTS_MAX", 10, "runner default"),
    ],
)
def test_a_bound_that_breaks_a_relation_fails_at_import(
    name: str, value: int, message: str
) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        _with_bound(name, value)


def test_every_relation_in_limits_says_what_it_protects() -> None:
    asserts = [n for n in ast.walk(ast.parse(LIMITS_SOURCE)) if isinstance(n, ast.Assert)]
    assert len(asserts) >= 20
    assert all(isinstance(a.msg, ast.Constant) and a.msg.value for a in asserts)


def _scanned_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "limits.py" and path.relative_to(PACKAGE).parts[0] not in UNSCANNED
    ]


def _is_limits_alias(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.value.id == "limits"
    )


def _module_level_assignments(path: Path) -> list[tuple[int, str, ast.expr | None]]:
    """(line, name, value) of each module-level assignment to a plain name."""
    found: list[tuple[int, str, ast.expr | None]] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        found += [(node.lineno, t.id, value) for t in targets if isinstance(t, ast.Name)]
    return found


def test_no_module_defines_a_bound_of_its_own() -> None:
    own = [
        f"{path.relative_to(PACKAGE)}:{line} {name}"
        for path in _scanned_modules()
        for line, name, value in _module_level_assignments(path)
        if BOUND_NAME.match(name) and not _is_limits_alias(value)
    ]
    assert own == [], "define these in ledger/limits.py (an alias `X: Final = limits.X` is fine)"


def _is_int64_literal(node: ast.BinOp) -> bool:
    return (
        isinstance(node.op, ast.Pow)
        and isinstance(node.left, ast.Constant)
        and node.left.value == 2
        and isinstance(node.right, ast.Constant)
        and node.right.value == 63
    )


def test_the_int64_range_is_written_only_in_limits() -> None:
    written = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in _scanned_modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.BinOp) and _is_int64_literal(node)
    ]
    assert written == [], "use limits.BIGINT_MAX (or a name of limits.py built on it)"
