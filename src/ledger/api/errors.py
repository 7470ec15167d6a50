"""The error envelope and the exception handlers that produce it (docs/api.md §1).

Contract: every error response, whatever raised it, has the body
``{"code": "UPPER_SNAKE", "message": "human sentence", "details": {...}}`` and
``Content-Type: application/json``:

- ``ledger.errors.LedgerError`` (and subclasses) → its own ``status_code``, ``code``,
  ``message`` and ``details``.
- Litestar's ``HTTPException`` family (routing, body limits, parameter validation) → the
  status it carries, with the contract code for that status (404 ``NOT_FOUND``, 405
  ``METHOD_NOT_ALLOWED``, 413 ``PAYLOAD_TOO_LARGE`` …); a parameter ``ValidationException``
  → 400 ``VALIDATION_ERROR`` whose ``details.field`` names the parameter.
- A database fault (``ledger.store.database.is_unavailable``: the connection or server is
  lost, a statement timed out, the disk is full …) → 503 ``UNAVAILABLE`` (the client may
  retry); any other database error is a bug (500).
- The database refusing a total beyond the int64 range → 422 ``AMOUNT_OVERFLOW``
  (``ledger.store.overflow``).
- Anything else → 500 ``INTERNAL_ERROR`` with a generic message. The exception and its trace
  are logged server-side and never sent: a trace can hold data of another tenant.

429 and 503 responses always carry ``Retry-After`` (seconds): the value of
``details["retry_after_seconds"]`` when a ``LedgerError`` sets it, else the exception's own
header, else :data:`RETRY_AFTER_SECONDS_DEFAULT`.

:func:`error_responses` documents the envelope in the OpenAPI schema: every route passes it
the status codes it can answer with (docs/api.md §1: every status a route answers is documented).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from http import HTTPStatus
from typing import Annotated, Any, Final

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.types import ExceptionHandlersMap

from ledger import limits
from ledger.errors import LedgerError
from ledger.store.database import is_unavailable
from ledger.store.overflow import amount_overflow, is_amount_overflow

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS_DEFAULT: Final = limits.RETRY_AFTER_SECONDS_DEFAULT
INTERNAL_ERROR_MESSAGE: Final = "an internal error occurred; it has been logged"
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
# msgspec's validation messages: "<reason> - at `<path>`", the path a JSON path from "$".
ROOT_PATH: Final = "$"
_AT: Final = " - at `"
_MISSING_FIELD: Final = re.compile(r"^Object missing required field `(?P<name>.*)`$", re.DOTALL)
_UNKNOWN_FIELD: Final = re.compile(r"^Object contains unknown field `(?P<name>.*)`$", re.DOTALL)
_MALFORMED_JSON: Final = ("JSON is malformed", "Input data was truncated")
_MISSING_PARAMETER: Final = re.compile(
    r"^Missing required (?P<source>\w+) parameter '(?P<name>[^']*)'"
)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The error envelope: the body of every 4xx and 5xx response."""

    code: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Z][A-Z0-9_]*$",
            description="Stable machine-readable error code; clients branch on this.",
            examples=["VALIDATION_ERROR"],
        ),
    ]
    message: Annotated[str, msgspec.Meta(description="A human sentence; may change.")]
    details: Annotated[
        dict[str, Any],
        msgspec.Meta(description="Structured context, e.g. `field` for a validation error."),
    ]


class UnsupportedMediaType(LedgerError):
    """The request body is not JSON (docs/api.md §1: JSON in and out)."""

    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


# Codes for Litestar's HTTPExceptions, which know only their status. A 4xx status missing
# here gets its HTTP reason phrase in UPPER_SNAKE (e.g. 406 NOT_ACCEPTABLE).
_HTTP_CODES: Final[dict[int, str]] = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}

# The exception classes a database fault can come as. Which of them are faults (503 +
# Retry-After: the request may succeed once the database is back) and which are bugs (500)
# is decided by ``ledger.store.database.is_unavailable``, the one rule the group committer
# uses too.
DATABASE_ERRORS: Final[tuple[type[Exception], ...]] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    """An envelope response; adds ``Retry-After`` to 429/503 and ``WWW-Authenticate`` to 401."""
    out_headers = dict(headers or {})
    if status_code in _RETRY_AFTER_STATUSES and not _has_header(out_headers, "retry-after"):
        out_headers["Retry-After"] = str(RETRY_AFTER_SECONDS_DEFAULT)
    if status_code == 401 and not _has_header(out_headers, "www-authenticate"):
        # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
        out_headers["WWW-Authenticate"] = 'Bearer realm="ledger"'
    return Response(
        ErrorBody(code=code, message=message, details=details or {}),
        status_code=status_code,
        headers=out_headers,
        media_type="application/json",
    )


def _has_header(headers: dict[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


def handle_ledger_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, LedgerError)
    headers: dict[str, str] = {}
    retry_after = exc.details.get("retry_after_seconds")
    if isinstance(retry_after, int) and not isinstance(retry_after, bool) and retry_after >= 0:
        headers["Retry-After"] = str(retry_after)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, headers)


def split_msgspec_error(error: str) -> tuple[str, str]:
    """``(reason, path)`` from a msgspec validation message ``"<reason> - at `<path>`"``."""
    index = error.rfind(_AT)
    if index == -1 or not error.endswith("`"):
        return error, ROOT_PATH
    return error[:index], error[index + len(_AT) : -1]


def field_path(reason: str, path: str) -> str:
    """The path of the offending field: a missing or unknown key is appended to its object."""
    for pattern in (_MISSING_FIELD, _UNKNOWN_FIELD):
        match = pattern.match(reason)
        if match:
            return f"{path}.{match['name']}"
    return path


def _validation_details(exc: HTTPException) -> dict[str, Any]:
    """``{"field", "source", "reason"}`` of the first invalid parameter (all in ``errors``).

    Body fields are JSON paths (``$.amount``) as from ``ledger.api.body.decode_json``; other
    parameters are named as sent (``limit``, ``Idempotency-Key``).
    """
    extra = exc.extra
    detail = str(exc.detail)
    if not isinstance(extra, list):
        if detail.startswith(_MALFORMED_JSON):
            return {"field": ROOT_PATH, "source": "body", "reason": detail}
        # A missing parameter is reported in prose only.
        missing = _MISSING_PARAMETER.match(detail)
        if missing is None:
            return {}
        return {"field": missing["name"], "source": missing["source"], "reason": "missing"}
    errors = [
        {k: _plain(item[k]) for k in ("key", "source", "message") if k in item}
        for item in extra
        if isinstance(item, dict)
    ]
    if not errors:
        return {}
    for error in errors:
        if error.get("source") == "header":
            # Litestar names a header by its handler argument (``idempotency_key``); clients
            # sent ``Idempotency-Key``.
            error["key"] = "-".join(w.capitalize() for w in str(error.get("key", "")).split("_"))
        if error.get("source") == "body":
            # Litestar names body fields relative to the handler's ``data`` argument.
            key = str(error.get("key", "data"))
            path = ROOT_PATH if key == "data" else f"{ROOT_PATH}.{key}"
            error["key"] = field_path(str(error.get("message", "")), path)
    first = errors[0]
    details: dict[str, Any] = {"field": first.get("key", ROOT_PATH)}
    if "source" in first:
        details["source"] = first["source"]
    if "message" in first:
        details["reason"] = first["message"]
    if len(errors) > 1:
        details["errors"] = errors
    return details


def _plain(value: Any) -> Any:
    # Litestar reports a parameter's source as a ``ParamType`` enum; clients want "query".
    return value.value if isinstance(value, Enum) else value


def _validation_message(exc: HTTPException, details: dict[str, Any]) -> str:
    if details.get("source") == "body" and details.get("field") == ROOT_PATH:
        return f"the request body is not valid: {details.get('reason', exc.detail)}"
    if "field" not in details:
        return str(exc.detail) or "the request is invalid"
    where = f"invalid {details.get('source', 'parameter')} {details['field']!r}"
    return f"{where}: {details['reason']}" if "reason" in details else where


def _http_message(request: Request[Any, Any, Any], exc: HTTPException) -> str:
    status = exc.status_code
    if status == 404:
        return f"nothing found at {request.url.path}"
    if status == 405:
        allowed = (exc.headers or {}).get("allow")
        suffix = f"; allowed: {allowed}" if allowed else ""
        return f"{request.method} is not allowed on {request.url.path}{suffix}"
    if status == 413:
        limit = request.route_handler.resolve_request_max_body_size()
        return (
            f"the request body is larger than the limit of {limit} bytes"
            if limit is not None
            else "the request body is too large"
        )
    return str(exc.detail) if exc.detail else HTTPStatus(status).phrase


def handle_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status >= 500 and status != 503:
        return handle_unexpected(request, exc)
    code = _HTTP_CODES.get(status) or HTTPStatus(status).name
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException) or status == 400:
        # Litestar raises a plain ClientException for an undecodable JSON body.
        details = _validation_details(exc)
        return error_response(status, code, _validation_message(exc, details), details, headers)
    return error_response(status, code, _http_message(request, exc), {}, headers)


def handle_database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """422 ``AMOUNT_OVERFLOW`` for a total the database refused as beyond the int64 range
    (``ledger.store.overflow``); 503 ``UNAVAILABLE`` + ``Retry-After`` for a database fault
    (``is_unavailable``); else the 500 of :func:`handle_unexpected`."""
    if is_amount_overflow(exc):
        return handle_ledger_error(request, amount_overflow(exc))
    if not is_unavailable(exc):
        return handle_unexpected(request, exc)
    log.warning("database unavailable during %s %s: %r", request.method, request.url.path, exc)
    return error_response(503, "UNAVAILABLE", "the database is unavailable; retry shortly")


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    # The trace goes to the log only; the client gets a fixed sentence (docs/api.md §1: a
    # 500 never leaks a trace).
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", INTERNAL_ERROR_MESSAGE)


def exception_handlers() -> ExceptionHandlersMap:
    """The handler map for ``Litestar(exception_handlers=...)``.

    Litestar picks a handler by walking the exception's MRO, so the most specific class
    registered wins and ``Exception`` catches everything else.
    """
    handlers: ExceptionHandlersMap = {
        LedgerError: handle_ledger_error,
        HTTPException: handle_http_exception,
        Exception: handle_unexpected,
    }
    for error_type in DATABASE_ERRORS:
        handlers[error_type] = handle_database_error
    return handlers


# One sentence per documented status: what it means on this API and which codes it carries.
_STATUS_DOCS: Final[dict[int, tuple[str, str]]] = {
    400: (
        "VALIDATION_ERROR",
        "Malformed JSON, a wrong type, an unknown or missing field, or an out-of-range value;"
        " `details.field` names the field.",
    ),
    401: ("UNAUTHENTICATED", "Missing, unknown or revoked API key."),
    404: ("NOT_FOUND", "No such resource for this tenant."),
    409: ("CONFLICT", "The request conflicts with the current state."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The request body is not `application/json`."),
    422: ("UNPROCESSABLE", "The request breaks a domain rule."),
    429: ("RATE_LIMITED", "Too many requests; retry after `Retry-After` seconds."),
    500: ("INTERNAL_ERROR", "An unexpected error; it has been logged."),
    503: ("UNAVAILABLE", "Temporarily unavailable; retry after `Retry-After` seconds."),
}

# Statuses every authenticated /v1 route can answer (429: the API key's rate limit,
# ``ledger.api.rate_limits``), and those of every route with a body.
V1_ERROR_STATUSES: Final = (401, 429, 500, 503)
BODY_ERROR_STATUSES: Final = (400, 413, 415)


def error_responses(
    *statuses: int, codes: Mapping[int, Sequence[str]] | None = None
) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses=`` documenting the envelope for each of ``statuses``.

    ``codes`` names the specific error codes a status can carry on this route, e.g.
    ``error_responses(400, 409, codes={409: ["DUPLICATE_CODE"]})``; each gets an example.
    A route with query, path or body parameters must include 400: Litestar otherwise
    documents its own (non-envelope) 400 shape there.
    """
    out: dict[int, ResponseSpec] = {}
    for status in statuses:
        default_code, description = _STATUS_DOCS.get(
            status, (_HTTP_CODES.get(status) or HTTPStatus(status).name, HTTPStatus(status).phrase)
        )
        status_codes = list((codes or {}).get(status, [default_code]))
        listed = ", ".join(f"`{code}`" for code in status_codes)
        out[status] = ResponseSpec(
            data_container=ErrorBody,
            description=f"{description} Codes: {listed}.",
            generate_examples=False,
            examples=[
                Example(
                    summary=code,
                    value={"code": code, "message": description, "details": {}},
                )
                for code in status_codes
            ],
        )
    return out
