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
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=limits.BODY_DECODER_CACHE_SIZE)
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    # Building a Decoder compiles the type once; body types are code constants, so the
    # cache stays small.
    return msgspec.json.Decoder(type_, strict=True)


def decode_json(body: bytes, type_: type[T]) -> T:
    """Decode ``body`` into ``type_`` strictly; see the module docstring for the contract.

    Raises:
        ValidationError: the body is not valid JSON or does not fit ``type_``.
    """
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
