"""The central strict-input rules without a database: body nesting and NUL
(``ledger.api.body``) and the query rules of every route (``ledger.api.strict``), including
properties: no body and no query string makes them fail with anything but a 400."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar

from ledger import limits
from ledger.api import create_app
from ledger.api.body import check_json_nesting, decode_json, json_nesting_depth, nul_path
from ledger.api.strict import MIN_POSITION, QuerySpec, check_query, query_specs
from ledger.config import load_settings
from ledger.errors import ValidationError


@pytest.fixture(scope="module")
def app() -> Litestar:
    # Never started: only its routes are read, so it needs no database.
    return create_app(load_settings({}), services=cast(Any, object()))


@pytest.fixture(scope="module")
def specs(app: Litestar) -> list[QuerySpec]:
    return list(query_specs(app).values())


def _spec(app: Litestar, path: str, method: str = "GET") -> QuerySpec:
    for route in app.routes:
        if route.path == path:
            handler = cast(Any, route).route_handler_map[method][0]
            return query_specs(app)[(id(handler), method)]
    raise AssertionError(f"no route {path}")


def _status(check: Callable[[], object]) -> int:
    """200 if ``check`` passes, the status of its ``LedgerError`` if it refuses; anything
    else escapes (and fails the test): it would be a 500."""
    try:
        check()
    except ValidationError as error:
        return error.status_code
    return 200


# Nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b'"[[[["', 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": "]]]]"}]}', 3),
        (b'{"a": "\\"[[[[\\\\", "b": [[]]}', 3),
        (b"[" * 1000, 1000),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: bytes, depth: int) -> None:
    assert json_nesting_depth(text) == depth


def test_nesting_at_the_limit_passes_and_one_more_is_refused() -> None:
    limit = limits.JSON_NESTING_DEPTH_MAX
    check_json_nesting(b"[" * limit + b"]" * limit)
    with pytest.raises(ValidationError) as info:
        decode_json(b"[" * (limit + 1) + b"]" * (limit + 1), list[Any])
    assert info.value.details["limit"] == "JSON_NESTING_DEPTH_MAX"
    assert info.value.details["field"] == "$"


def test_a_body_too_deep_for_python_is_a_400_not_a_recursion_error() -> None:
    with pytest.raises(ValidationError):
        decode_json(b'{"metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, dict[str, Any])


# NUL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": "x\x00"}, "$.a"),
        ({"a": [1, {"b": "\x00"}]}, "$.a[1].b"),
        ({"a": {"k\x00": 1}}, "$.a.k\\u0000"),
        ({"a": ["fine", "still fine"]}, None),
    ],
)
def test_nul_path_names_the_string(value: Any, path: str | None) -> None:
    assert nul_path(value) == path


def test_nul_in_a_body_is_refused_before_its_shape_is_checked() -> None:
    with pytest.raises(ValidationError) as info:
        decode_json(b'{"unknown": "\\u0000"}', dict[str, int])
    assert info.value.details["field"] == "$.unknown"


def test_an_escaped_backslash_then_u0000_is_not_nul() -> None:
    assert decode_json(b'{"a": "\\\\u0000"}', dict[str, str]) == {"a": "\\u0000"}


# Query rules --------------------------------------------------------------------------------


def test_specs_know_the_declared_parameters_and_integer_ranges(app: Litestar) -> None:
    spec = _spec(app, "/v1/journals")
    assert {"limit", "cursor", "from", "to", "status", MIN_POSITION} <= spec.names
    assert spec.integers["limit"] == (1, limits.PAGE_SIZE_MAX)
    assert spec.integers[MIN_POSITION] == (0, limits.POSITION_MAX)
    post = _spec(app, "/v1/transactions", "POST")
    assert post.names == {"force"}  # the seed's parameter; min_position only on GET
    assert _spec(app, "/v1/matches").integers["record_id"] == (1, limits.RECORD_ID_MAX)


def _pairs() -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.sampled_from(["limit", "known_at", "from", "status", "cursor", MIN_POSITION, "x"])
    values = st.one_of(
        st.text(max_size=30),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.sampled_from(["", "1e2", "1.0", "+5", " 5", "2026-01-01", "posted", "\x00"]),
        st.text(alphabet="0123456789", min_size=19, max_size=5000),
    )
    return st.lists(st.tuples(st.one_of(names, st.text(max_size=10)), values), max_size=5)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pairs=_pairs())
def test_any_query_is_accepted_or_a_400_on_every_route(
    specs: list[QuerySpec], pairs: list[tuple[str, str]]
) -> None:
    for spec in specs:
        assert _status(partial(check_query, pairs, spec)) in {200, 400}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    amount: int = 0
    metadata: dict[str, Any] = {}


@settings(max_examples=300, deadline=None)
@given(value=_json_values)
def test_any_json_body_decodes_or_is_a_400(value: Any) -> None:
    body = json.dumps(value).encode()
    assert _status(lambda: decode_json(body, _Body)) in {200, 400}


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200))
def test_any_bytes_decode_or_are_a_400(body: bytes) -> None:
    assert _status(lambda: decode_json(body, dict[str, Any])) in {200, 400}
