"""TEMPORARY: 500s of input classes that other branches of issue 12 are fixing.

The coordinator deletes this module (and its one use in ``tests.fuzz.scenario``) once
``i12-strict`` and ``i12-recon`` are merged: from then on every 500 fails the run. Until then a
server error whose request falls in one of these classes is counted and printed under
"left to another branch" instead of failing the run. Nothing else is excused: a schema
violation never is, and a 500 outside these classes always fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)
# i12-strict's nesting limit will be well below this; deeper bodies are that class.
NESTING_SUSPECT: Final = 32
_NUMBER_FORM: Final = re.compile(r"^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?$")
_PLAIN_INT: Final = re.compile(r"^-?\d+$")


def _strings(value: Any) -> list[str]:
    """Every string in ``value`` (keys too), however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _integers(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, Mapping):
        return [i for v in value.values() for i in _integers(v)]
    if isinstance(value, list | tuple):
        return [i for item in value for i in _integers(item)]
    return []


def _bad_query_integer(value: Any) -> bool:
    """An integer out of int64, or a number in exponent/fraction form, in a query value."""
    for item in value if isinstance(value, list | tuple) else [value]:
        text = str(item).strip()
        if not _NUMBER_FORM.match(text):
            continue
        if not _PLAIN_INT.match(text) or not INT64_MIN <= int(text) <= INT64_MAX:
            return True
    return False


def known_500_class(
    *,
    path: Mapping[str, Any],
    query: Mapping[str, Any],
    headers: Mapping[str, Any],
    body: Any,
    declared_query: frozenset[str],
) -> str | None:
    """The class (and the branch fixing it) of a request whose 500 is fixed elsewhere, or None."""
    if any("\x00" in s for s in _strings([path, query, dict(headers), body])):
        return "NUL in text (i12-strict)"
    if _depth(body) > NESTING_SUSPECT:
        return "deep JSON nesting (i12-strict)"
    if any(_bad_query_integer(v) for v in query.values()):
        return "query integer beyond int64 or in exponent/fraction form (i12-strict)"
    if set(query) - declared_query:
        return "unknown query parameter (i12-strict)"
    if any(abs(i) > INT64_MAX // 2 for i in _integers(body)):
        return "amounts whose total leaves int64 (i12-recon)"
    return None
