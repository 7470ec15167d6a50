"""The OpenAPI 3.1 document: ``/schema/openapi.json``, interactive docs under ``/schema``.

Contract:

- Title ``ledger``, version ``ledger.__version__``; Swagger UI at ``/schema`` (and
  ``/schema/swagger``), ReDoc at ``/schema/redoc``.
- Two security schemes, either of which authenticates a ``/v1`` route: ``ApiKeyHeader``
  (``X-API-KEY``) and ``BearerAuth`` (``Authorization: Bearer``); ``/v1`` routes list both.
- Every Struct with ``forbid_unknown_fields=True`` has ``additionalProperties: false`` (Litestar
  leaves it out, and schema-driven fuzzers would then send fields we refuse).
- Error responses are documented per route with ``ledger.api.errors.error_responses``, with the
  headers they always carry (``document_error_headers``): ``Retry-After`` on every 429 and
  503, ``WWW-Authenticate`` on every 401.
- An unknown path under ``/schema`` is a 404 error envelope like anywhere else (Litestar
  answers an HTML page there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from litestar import Request, Response, Router
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.typing import FieldDefinition

from ledger import __version__
from ledger.api.errors import error_response

SCHEMA_PATH: Final = "/schema"
API_KEY_SCHEME: Final = "ApiKeyHeader"
BEARER_SCHEME: Final = "BearerAuth"

# Either scheme suffices: a list of requirements is an OR in OpenAPI.
V1_SECURITY: Final[list[SecurityRequirement]] = [{API_KEY_SCHEME: []}, {BEARER_SCHEME: []}]

_DESCRIPTION: Final = """\
Event-sourced double-entry ledger.

Every `/v1` request needs an API key, as `X-API-KEY: <key>` or `Authorization: Bearer <key>`.
Every error is `{"code": "UPPER_SNAKE", "message": "...", "details": {...}}`. Amounts are JSON
integers in minor units. Every GET under `/v1` answers with a `Ledger-Position` header.
"""


# Headers ``ledger.api.errors.error_response`` adds to every answer of these statuses.
# Litestar's ``ResponseSpec`` cannot carry headers, so they are added to the built document.
_ERROR_HEADERS: Final[dict[str, dict[str, OpenAPIHeader]]] = {
    "401": {
        "WWW-Authenticate": OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING),
            required=True,
            description="The schemes that authenticate a request (`Bearer`).",
        )
    },
    **{
        status: {
            "Retry-After": OpenAPIHeader(
                schema=Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$"),
                required=True,
                description="Seconds to wait before retrying (a decimal integer).",
            )
        }
        for status in ("429", "503")
    },
}


# The same, as the served document's dicts.
_ERROR_HEADER_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    status: {name: header.to_schema() for name, header in headers.items()}
    for status, headers in _ERROR_HEADERS.items()
}


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's Struct schema plus ``additionalProperties: false`` where unknown fields fail.

    It subclasses a private Litestar class (pinned by ``litestar<3``); the API tests check the
    generated document, so a Litestar change that breaks this shows up there.
    """

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct_type: Any = field_definition.type_
        config = getattr(struct_type, "__struct_config__", None)
        if isinstance(config, msgspec.structs.StructConfig) and config.forbid_unknown_fields:
            # ``schema`` is the component registered for this Struct; references to it see
            # the change too.
            schema.additional_properties = False
        return schema


def _schema_not_found_as_envelope(response: Response[Any]) -> Response[Any]:
    # Litestar's OpenAPI router answers unknown /schema/... paths with an HTML 404 page.
    if response.status_code == 404:
        return error_response(404, "NOT_FOUND", "nothing found at this path")
    return response


def document_error_headers(document: dict[str, Any]) -> None:
    """Adds ``_ERROR_HEADERS`` to every documented 401, 429 and 503 response of ``document``
    (the document as served, a dict; idempotent).

    Schema-driven clients and fuzzers then expect ``Retry-After`` where the contract promises
    it. It runs when a page of ``/schema`` is first rendered (``_Json`` and its siblings), not
    when the app is built: building the document takes about 0.4 s, which every app (a test's
    included) would otherwise pay without ever serving it.
    """
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue  # a path item's own "parameters" or "summary"
            for status, response in operation.get("responses", {}).items():
                headers = _ERROR_HEADER_SCHEMAS.get(status)
                if headers and "$ref" not in response:
                    response["headers"] = {**response.get("headers", {}), **headers}


# The render plugins of ``/schema``: each serves the document with
# :func:`document_error_headers` applied. Litestar hands them all the same cached dict, so
# the first page rendered completes it for every one (JSON, Swagger UI and ReDoc agree).


class _Swagger(SwaggerRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        document_error_headers(openapi_schema)
        return super().render(request, openapi_schema)


class _Redoc(RedocRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        document_error_headers(openapi_schema)
        return super().render(request, openapi_schema)


class _Json(JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        document_error_headers(openapi_schema)
        return super().render(request, openapi_schema)


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="ledger",
        version=__version__,
        description=_DESCRIPTION,
        path=SCHEMA_PATH,
        render_plugins=[
            _Swagger(path=["/", "/swagger"]),
            _Redoc(path="/redoc"),
            _Json(path="/openapi.json"),
        ],
        components=Components(
            security_schemes={
                API_KEY_SCHEME: SecurityScheme(
                    type="apiKey",
                    name="X-API-KEY",
                    security_scheme_in="header",
                    description="The tenant's API key.",
                ),
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="The tenant's API key as a bearer token.",
                ),
            }
        ),
        openapi_router=Router(
            SCHEMA_PATH,
            route_handlers=[],
            include_in_schema=False,
            after_request=_schema_not_found_as_envelope,
        ),
    )


@dataclass
class _RawSchema(Schema):
    """An OpenAPI schema given as a JSON Schema document (msgspec's)."""

    raw: dict[str, Any] = field(default_factory=dict)

    def to_schema(self) -> dict[str, Any]:
        return self.raw


def _inline_refs(node: Any, definitions: dict[str, Any], one_key: frozenset[str]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/X"}`` replaced by X's definition (with
    ``minProperties`` and ``maxProperties`` 1 when X is in ``one_key``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            target = dict(_inline_refs(definitions[name], definitions, one_key))
            if name in one_key:
                target.update(minProperties=1, maxProperties=1)
            return target
        return {key: _inline_refs(value, definitions, one_key) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, definitions, one_key) for item in node]
    return node


def json_body_operation(
    struct: type[msgspec.Struct], *, one_key: tuple[type[msgspec.Struct], ...] = ()
) -> type[Operation]:
    """An ``operation_class`` documenting ``struct`` as the JSON request body.

    Handlers decode their bodies themselves (``ledger.api.body.decode_body``, never through
    float), so Litestar does not know the body type; this puts msgspec's JSON Schema of
    ``struct`` (nested Structs inlined) in the OpenAPI document. The nested Structs in
    ``one_key`` are objects of exactly one key (their handler checks it: 400 otherwise).
    """
    generated = msgspec.json.schema(struct)
    definitions = generated.get("$defs", {})
    names = frozenset(one.__name__ for one in one_key)
    body_schema = _inline_refs(generated, definitions, names)
    body_schema.pop("$defs", None)

    @dataclass
    class WithJsonBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=_RawSchema(raw=body_schema))},
                required=True,
            )

    return WithJsonBody
