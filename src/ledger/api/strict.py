"""Strict query strings, paths and headers: one rule for every authenticated route.

Contract (docs/api.md §1, "Strict input") of :class:`StrictInputMiddleware`, mounted on the
``/v1`` and ``/external/v1`` routers after authentication and before ``min_position`` is
waited on (``ledger.api.positions``), so an invalid request is refused at once:

- NUL (``%00``) in a header value, a path parameter, or a query parameter's name or value →
  400 ``VALIDATION_ERROR`` whose ``details.field`` names the header or parameter.
- A query parameter the route does not declare → 400 naming it (``details.unknown`` lists
  every unknown one). What a route declares is what Litestar reads for its handler and the
  handler's dependencies (the route's ``KwargsModel``), so a new parameter needs no second
  list; ``min_position`` is declared on every GET (``ledger.api.positions`` reads it).
- An integer query parameter is ASCII decimal digits only (no sign, space, fraction or
  exponent: ``1e2``, ``1.0``, ``+5``, `` 5`` are refused) and within its declared ``ge``/``le``
  (``gt``/``lt``), else 0 .. 2^63-1; a repeated one must be valid every time. Else 400
  naming it, with the range in ``details``.
- Every other query parameter is checked here as Litestar would convert it for the handler
  (its type and constraints from the handler's signature model, ``strict=False``, each value
  if repeated), and a required one that is absent is refused: so nothing about the query
  string is left to fail after the wait. Handlers still check what spans parameters (``from``
  after ``to``) or needs data (a cursor's content).

The table of what each route declares (:class:`QuerySpec` per handler) is built once per
app by :func:`install_query_specs` from the app's routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import NoneType
from typing import Annotated, Any, Final, get_args, get_origin
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.params import ParameterKwarg, QueryParameter
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.typing import FieldDefinition

from ledger import limits
from ledger.errors import ValidationError

# The app state key of the per-handler table (``install_query_specs``).
QUERY_SPECS_STATE: Final = "ledger_query_specs"
# Every GET accepts it (``ledger.api.positions``), whatever its handler declares.
MIN_POSITION: Final = "min_position"
_POSITION_RANGE: Final = (0, limits.POSITION_MAX)
# The range of an integer query parameter that declares none: a bigint, never negative.
_DEFAULT_RANGE: Final = (0, limits.BIGINT_MAX)
_NUL: Final = "\x00"

# Shared declarations of the integer query parameters, so their ranges are stated once.
PageLimit = Annotated[
    int | None,
    QueryParameter(
        ge=1,
        le=limits.PAGE_SIZE_MAX,
        description=f"Page size, 1..{limits.PAGE_SIZE_MAX} (default {limits.PAGE_SIZE_DEFAULT}).",
    ),
]
KnownAt = Annotated[
    int | None,
    QueryParameter(
        ge=0,
        le=limits.POSITION_MAX,
        description="Answer as the books stood at this event-store position (default: now).",
    ),
]


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """The query parameters one route handler declares: their names, the required ones, the
    inclusive range of each integer one, and the type Litestar converts each other one to
    (with the handler's ``dec_hook``)."""

    names: frozenset[str]
    required: frozenset[str] = frozenset()
    integers: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    types: Mapping[str, Any] = field(default_factory=dict)
    sequences: frozenset[str] = frozenset()
    dec_hook: Callable[[Any, Any], Any] | None = None


def _integer_type(definition: FieldDefinition) -> bool:
    annotation = definition.annotation
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    concrete = [t for t in (get_args(annotation) or (annotation,)) if t is not NoneType]
    # ``bool`` is an ``int`` subclass but not an integer parameter: compare exactly.
    return concrete == [int]


def _bound(value: Any, shift: int) -> int | None:
    return None if value is None else int(value) + shift


def integer_range(definition: FieldDefinition) -> tuple[int, int]:
    """The inclusive range ``definition`` declares (``ge``/``gt``, ``le``/``lt``), else
    0 .. 2^63-1."""
    kwarg = definition.kwarg_definition
    low, high = _DEFAULT_RANGE
    if isinstance(kwarg, ParameterKwarg):
        low = next((b for b in (_bound(kwarg.ge, 0), _bound(kwarg.gt, 1)) if b is not None), low)
        high = next((b for b in (_bound(kwarg.le, 0), _bound(kwarg.lt, -1)) if b is not None), high)
    return low, high


def _signatures(route_handler: Any) -> list[Any]:
    """The handler's dependencies' and then its own (``parsed_fn_signature``,
    ``signature_model``) owners: a later one wins for a name both declare."""
    return [*route_handler.resolve_dependencies().values(), route_handler]


def query_spec(route_handler: Any, kwargs_model: Any, method: str) -> QuerySpec:
    """The :class:`QuerySpec` of ``route_handler`` answering ``method``."""
    definitions: dict[str, FieldDefinition] = {}
    types: dict[str, Any] = {}
    for owner in _signatures(route_handler):
        definitions.update(owner.parsed_fn_signature.parameters)
        types.update((f.name, f.type) for f in msgspec.structs.fields(owner.signature_model))
    names: set[str] = set()
    integers: dict[str, tuple[int, int]] = {}
    converted: dict[str, Any] = {}
    for parameter in kwargs_model.expected_query_params:
        alias = parameter.field_alias
        names.add(alias)
        definition = definitions.get(parameter.field_name)
        if definition is not None and _integer_type(definition):
            integers[alias] = integer_range(definition)
        elif parameter.field_name in types:
            converted[alias] = types[parameter.field_name]
    if method == "GET":
        names.add(MIN_POSITION)
        integers.setdefault(MIN_POSITION, _POSITION_RANGE)
    return QuerySpec(
        names=frozenset(names),
        required=frozenset(
            p.field_alias for p in kwargs_model.expected_query_params if p.is_required
        ),
        integers=integers,
        types=converted,
        sequences=frozenset(kwargs_model.sequence_query_parameter_names),
        dec_hook=route_handler.default_deserializer,
    )


def _bare_spec(method: str) -> QuerySpec:
    if method == "GET":
        return QuerySpec(names=frozenset({MIN_POSITION}), integers={MIN_POSITION: _POSITION_RANGE})
    return QuerySpec(names=frozenset())


# Specs already built, by (path, method, the handler function's name): every app of a process
# has the same routes (code constants), and building a spec reads the handler's signature
# models, which costs more than the rest of building an app (tests build one per test).
_BUILT_SPECS: dict[tuple[str, str, str], QuerySpec] = {}


def query_specs(app: Litestar) -> dict[tuple[int, str], QuerySpec]:
    """The spec of every HTTP route handler of ``app``, by ``(id(handler), method)``."""
    specs: dict[tuple[int, str], QuerySpec] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, kwargs_model) in route.route_handler_map.items():
                fn = getattr(handler.fn, "__func__", handler.fn)  # a Controller's bound method
                key = (route.path, method, f"{fn.__module__}.{fn.__qualname__}")
                spec = _BUILT_SPECS.get(key)
                if spec is None:
                    spec = query_spec(handler, kwargs_model, method)
                    if len(_BUILT_SPECS) < limits.QUERY_SPECS_CACHED_MAX:
                        _BUILT_SPECS[key] = spec
                specs[(id(handler), method)] = spec
    return specs


def install_query_specs(app: Litestar) -> None:
    """Build ``app``'s table for :class:`StrictInputMiddleware` (once, after routing is set)."""
    app.state[QUERY_SPECS_STATE] = query_specs(app)


def _refuse(field: str, source: str, reason: str, **extra: Any) -> ValidationError:
    return ValidationError(
        f"invalid {source} parameter {field!r}: {reason}",
        {"field": field, "source": source, "reason": reason, **extra},
    )


def check_no_nul(scope: Scope) -> None:
    """Raises a 400 naming the first header or path parameter that contains NUL."""
    for name, value in scope["headers"]:
        if b"\x00" in value:
            # Named as clients write it (``Idempotency-Key``), like Litestar's header errors.
            header = "-".join(w.capitalize() for w in name.decode("latin-1").split("-"))
            raise _refuse(header, "header", "contains the NUL character")
    for parameter, text in (scope.get("path_params") or {}).items():
        if isinstance(text, str) and _NUL in text:
            raise _refuse(parameter, "path", "contains the NUL character")


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """The query string's ``(name, value)`` pairs, percent-decoded as UTF-8, in order."""
    return parse_qsl(
        query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"
    )


def check_integer(name: str, value: str, bounds: tuple[int, int]) -> None:
    """Raises a 400 naming ``name`` unless ``value`` is decimal digits within ``bounds``."""
    low, high = bounds
    if (
        len(value) <= limits.INTEGER_TEXT_DIGITS_MAX
        and value.isascii()
        and value.isdigit()
        and low <= int(value) <= high
    ):
        return
    raise _refuse(
        name,
        "query",
        f"must be a decimal integer from {low} to {high}",
        value=value[: limits.QUERY_VALUE_SHOWN_LENGTH_MAX],
        minimum=low,
        maximum=high,
    )


def _check_names(pairs: list[tuple[str, str]], spec: QuerySpec) -> None:
    for name, value in pairs:
        if _NUL in name or _NUL in value:
            raise _refuse(name.replace(_NUL, "\\0"), "query", "contains the NUL character")
    given = {name for name, _ in pairs}
    unknown = sorted(given - spec.names)
    if unknown:
        raise ValidationError(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)};"
            f" this endpoint accepts: {', '.join(sorted(spec.names)) or 'none'}",
            {
                "field": unknown[0],
                "source": "query",
                "reason": "unknown parameter",
                "unknown": unknown,
            },
        )
    missing = sorted(spec.required - given)
    if missing:
        raise _refuse(missing[0], "query", "missing")


def _without_none(type_: Any) -> Any:
    """``X | None`` as ``X``; any other type as it is."""
    rest = [arg for arg in get_args(type_) if arg is not NoneType]
    if get_origin(type_) is not Annotated and len(rest) == 1 < len(get_args(type_)):
        return rest[0]
    return type_


def _check_type(name: str, value: Any, spec: QuerySpec) -> None:
    type_ = spec.types[name]
    if isinstance(value, str):
        # A value that is given is never "none": msgspec (``strict=False``) reads the text
        # ``null`` as None for an optional type, which made ``?ledger_id=null`` or
        # ``?as_of=null`` a silently ignored filter (schemathesis, issue 12). A text type
        # still takes the text ``null``.
        type_ = _without_none(type_)
    try:
        msgspec.convert(value, type_, strict=False, dec_hook=spec.dec_hook)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        reason = str(exc)[: limits.QUERY_VALUE_SHOWN_LENGTH_MAX]
        raise _refuse(name, "query", reason) from None


def check_query(pairs: Iterable[tuple[str, str]], spec: QuerySpec) -> None:
    """Raises a 400 for NUL, an unknown or missing parameter, an invalid integer, or a value
    Litestar would not convert to its parameter's type (module contract)."""
    pairs = list(pairs)
    _check_names(pairs, spec)
    for name, value in pairs:
        bounds = spec.integers.get(name)
        if bounds is not None:
            check_integer(name, value, bounds)
        elif name in spec.types and name not in spec.sequences:
            _check_type(name, value, spec)
    for name in spec.sequences & spec.types.keys() & {key for key, _ in pairs}:
        _check_type(name, [value for key, value in pairs if key == name], spec)


class StrictInputMiddleware(ASGIMiddleware):
    """Refuses NUL, unknown query parameters and loose integers before any handler work (see
    the module docstring); needs :func:`install_query_specs` on the app."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_no_nul(scope)
        handler = scope.get("route_handler")
        specs: dict[tuple[int, str], QuerySpec] = scope["litestar_app"].state[QUERY_SPECS_STATE]
        method = str(scope.get("method"))
        # A handler missing from the table (never expected) declares nothing: fail closed.
        spec = specs.get((id(handler), method)) or _bare_spec(method)
        check_query(query_pairs(scope.get("query_string", b"")), spec)
        await next_app(scope, receive, send)
