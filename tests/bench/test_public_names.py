"""The benchmark reads production code through public names only.

A private name (``_something``) of a production module may change or vanish with any
refactoring; a benchmark that reached for one would break ``make bench`` silently, or
measure something the service no longer does. The benchmark's own private names, and the
underscore names that are public API of the standard library (namedtuple methods), are fine.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import ledger.bench

BENCH_DIR: Final = Path(ledger.bench.__file__).parent
# ``typing.NamedTuple`` methods: underscored only to stay clear of field names.
NAMEDTUPLE_API: Final = frozenset({"_asdict", "_fields", "_make", "_replace", "_field_defaults"})


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _production_module(module: str) -> bool:
    return module.startswith("ledger") and not module.startswith("ledger.bench")


def private_production_names(source: str) -> list[str]:
    """Private names ``source`` imports from production modules or reads as attributes of
    anything but ``self`` / ``cls`` (which are the benchmark's own objects)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and _production_module(node.module):
            found += [f"{node.module}.{a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if any(map(_private, a.name.split(".")))]
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and node.attr not in NAMEDTUPLE_API
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(ast.unparse(node))
    return found


def test_the_check_finds_private_names() -> None:
    source = (
        "from ledger.store.group_commit import Batch, _Exclude\n"
        "from ledger.bench.load import _Job\n"
        "import ledger.store._internal\n"
        "value = batch._scratch\n"
        "own = self._rows\n"
        "url = parts._replace(path='/')\n"
    )
    assert private_production_names(source) == [
        "ledger.store.group_commit._Exclude",
        "ledger.store._internal",
        "batch._scratch",
    ]


def test_bench_reads_no_private_production_names() -> None:
    modules = sorted(BENCH_DIR.glob("*.py"))
    assert modules, BENCH_DIR
    found = {
        path.name: names
        for path in modules
        if (names := private_production_names(path.read_text(encoding="utf-8")))
    }
    assert found == {}
