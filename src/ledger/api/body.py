"""Request bodies: strict JSON decoding and the body size limit.

Contract of :func:`decode_body` / :func:`decode_json`:

- The raw bytes are decoded by msgspec straight into the target type with ``strict=True``.
  Litestar's default body path parses into builtins first and then converts leniently, so a
  JSON number passes through ``float`` (``12345678901234567.89`` → ``…568``) and ``"5"``
  becomes ``5`` (Litestar 2's ``msgspec.convert(..., strict=False)``). For money that is
  wrong, so handlers never take a ``data`` argument; they call :func:`decode_body`.
- Any failure is a ``ledger.errors.ValidationError`` (400 ``VALIDATION_ERROR``) whose
  ``details.field`` is a JSON path such as ``$.entries[0].amount``: for a missing field the
  path of the missing field itself, for an unknown field the path of that field, ``$`` for
  malformed JSON or a wrong top-level type. ``details.reason`` is msgspec's explanation.
  msgspec reports the first error only.
- A fraction, exponent or string where an integer is expected is rejected (``1.0`` too).
- A ``Content-Type`` other than ``application/json`` (or ``*/*+json``) in UTF-8 is 415
  ``UNSUPPORTED_MEDIA_TYPE``. A request without ``Content-Type`` is read as JSON.
- Bodies larger than the route's ``request_max_body_size`` (1 MiB by default) are 413
  ``PAYLOAD_TOO_LARGE``: Litestar checks the bytes as they stream in, and
  :class:`BodySizeLimitMiddleware` refuses an announced ``Content-Length`` over the limit on
  every route before the handler runs, even one that never reads its body.
- Duplicate keys in one object: the last one wins (msgspec's behaviour).
- Objects and arrays nest at most ``limits.JSON_NESTING_DEPTH_MAX`` deep (the body itself
  is depth 1), checked on the bytes before decoding: else 400 with ``details.field`` ``$``,
  ``details.limit`` the name of the limit and ``details.depth_max`` its value.
- No string of the body, value or object key, contains NUL (``\\u0000``; PostgreSQL text
  cannot hold it): else 400 whose ``details.field`` is the string's JSON path
  (``$.metadata.note``). This holds for every text field of every body type at once.
"""

from __future__ import annotations

import functools
import re
from itertools import accumulate
from typing import Any, Final, TypeVar, cast

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from ledger import limits
from ledger.api.errors import ROOT_PATH, UnsupportedMediaType, field_path, split_msgspec_error
from ledger.errors import ValidationError

T = TypeVar("T")

_JSON_CHARSETS: Final = frozenset({"utf-8", "utf8"})
# A JSON string literal, escapes included (possessive: linear on hostile input).
_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
# Keep only the brackets, openers as "(" and closers as ")".
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKETS: Final = bytes.maketrans(b"[]{}", b"()()")
_NUL_ESCAPE: Final = b"\\u0000"
_NUL: Final = "\x00"


@functools.lru_cache(maxsize=limits.BODY_DECODER_CACHE_SIZE)
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    # Building a Decoder compiles the type once; body types are code constants, so the
    # cache stays small.
    return msgspec.json.Decoder(type_, strict=True)


def json_nesting_depth(body: bytes) -> int:
    """How deep objects and arrays nest in the JSON text ``body`` (0 for a scalar).

    Strings are skipped, so brackets inside them do not count; on malformed JSON the answer
    is an estimate (the decoder refuses such a body anyway)."""
    brackets = _JSON_STRING.sub(b"", body).translate(_BRACKETS, delete=_NOT_BRACKETS)
    if brackets.count(b"(") <= 1:
        return brackets.count(b"(")
    return max(accumulate(1 if char == ord("(") else -1 for char in brackets))


def check_json_nesting(body: bytes) -> None:
    """Raises a 400 if objects and arrays in ``body`` nest deeper than the limit."""
    depth_max = limits.JSON_NESTING_DEPTH_MAX
    # Fewer brackets than the limit cannot nest beyond it: most bodies stop here.
    if body.count(b"[") + body.count(b"{") <= depth_max or json_nesting_depth(body) <= depth_max:
        return
    raise ValidationError(
        f"the request body nests objects and arrays more than {depth_max} deep",
        {
            "field": ROOT_PATH,
            "reason": "nested too deep",
            "limit": "JSON_NESTING_DEPTH_MAX",
            "depth_max": depth_max,
        },
    )


def nul_path(value: Any, path: str = ROOT_PATH) -> str | None:
    """The JSON path of the first string (value or key) in ``value`` holding NUL, or None.

    ``value`` is decoded JSON, nested at most ``limits.JSON_NESTING_DEPTH_MAX`` deep."""
    if isinstance(value, str):
        return path if _NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}"
            if _NUL in key:
                return inner.replace(_NUL, "\\u0000")
            found = nul_path(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def check_no_nul(body: bytes) -> None:
    """Raises a 400 naming the first string of the JSON ``body`` that holds NUL."""
    # NUL can only be written escaped in JSON; without the escape there is nothing to find.
    if _NUL_ESCAPE not in body:
        return
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return  # malformed: the typed decode reports it
    field = nul_path(value)
    if field is not None:
        raise ValidationError(
            f"invalid request body at {field}: text must not contain the NUL character",
            {"field": field, "reason": "contains the NUL character"},
        )


def decode_json(body: bytes, type_: type[T]) -> T:
    """Decode ``body`` into ``type_`` strictly; see the module docstring for the contract.

    Raises:
        ValidationError: the body is not valid JSON, nests too deep, holds NUL in a string or
            does not fit ``type_``.
    """
    check_json_nesting(body)
    check_no_nul(body)
    try:
        # cast: mypy does not see type objects as Hashable for the lru_cache.
        value: T = _decoder(cast(Any, type_)).decode(body)
    except msgspec.ValidationError as exc:
        reason, path = split_msgspec_error(str(exc))
        field = field_path(reason, path)
        raise ValidationError(
            f"invalid request body at {field}: {reason}", {"field": field, "reason": reason}
        ) from None
    except msgspec.DecodeError as exc:
        if not body.strip():
            raise ValidationError(
                "the request body is empty; send a JSON object",
                {"field": ROOT_PATH, "reason": "empty body"},
            ) from None
        raise ValidationError(
            f"the request body is not valid JSON: {exc}", {"field": ROOT_PATH, "reason": str(exc)}
        ) from None
    return value


def check_json_content_type(request: Request[Any, Any, Any]) -> None:
    """Refuse a declared non-JSON body (415); an absent ``Content-Type`` is accepted."""
    raw = request.headers.get("content-type")
    if raw is None:
        return
    media_type, _, params = raw.partition(";")
    media_type = media_type.strip().lower()
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if not is_json or (charset is not None and charset not in _JSON_CHARSETS):
        raise UnsupportedMediaType(
            "the request body must be JSON: send Content-Type: application/json (UTF-8)",
            {"content_type": raw[: limits.CONTENT_TYPE_SHOWN_LENGTH_MAX]},
        )


async def decode_body(request: Request[Any, Any, Any], type_: type[T]) -> T:
    """Read the raw request body and decode it into ``type_`` strictly.

    Raises:
        UnsupportedMediaType: a ``Content-Type`` that is not JSON (415).
        RequestEntityTooLarge: the body exceeds the route's limit (413).
        ValidationError: see :func:`decode_json` (400).
    """
    check_json_content_type(request)
    body = await request.body()
    return decode_json(body, type_)


class BodySizeLimitMiddleware(ASGIMiddleware):
    """Answer 413 for an announced ``Content-Length`` above the route's limit, on any route.

    Litestar enforces the limit only when a handler reads the body; this makes a route that
    ignores its body refuse an oversized one too, before any work (auth, DB) is done.
    Chunked bodies without ``Content-Length`` are still limited while being read.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        route_handler = scope.get("route_handler")
        if isinstance(route_handler, HTTPRouteHandler):
            limit = route_handler.resolve_request_max_body_size()
            announced = _content_length(scope)
            if limit is not None and announced is not None and announced > limit:
                raise RequestEntityTooLarge
        await next_app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise ClientException("the Content-Length header is not an integer") from None
    return None
