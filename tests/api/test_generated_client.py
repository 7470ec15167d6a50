"""A client generated from the OpenAPI document has typed models (issue 10's acceptance).

``openapi-python-client`` (the dev extra) generates a package from the app's document; the
models of a journal, the balances and a record must be classes with typed attributes, and the
generated operations must parse the app's real answers into them. Component and operation
names are read from the document, so renaming a component does not break the test.
"""

from __future__ import annotations

import datetime
import importlib
import json
import subprocess
import sys
import types
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_python_client.strings import snake_case

from ledger.api import create_app
from ledger.bootstrap import Services
from ledger.commands.tenants import NewKey
from ledger.config import Settings

PACKAGE = "ledger_generated_client"
# The generator's post-hooks run ruff over the output: not needed to import it, and a missing
# ruff on PATH would be reported as a warning.
GENERATOR_CONFIG: dict[str, list[str]] = {"post_hooks": []}


class Operation(typing.NamedTuple):
    """One operation of the document: where the generator puts it and what its answer is."""

    module: types.ModuleType
    model: type[Any]


class Generated(typing.NamedTuple):
    """The document, the package generated from it (imported) and what the generator printed."""

    document: dict[str, Any]
    package: types.ModuleType
    output: str


def _document() -> dict[str, Any]:
    """The app's OpenAPI document, built without a database (no services are opened)."""
    settings = Settings(
        database_url=None, host="127.0.0.1", port=0, data_dir=Path("."), log_level="INFO"
    )
    document: dict[str, Any] = create_app(settings).openapi_schema.to_schema()
    return document


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("generated-client")
    document = _document()
    (root / "openapi.json").write_text(json.dumps(document))
    (root / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            *("--path", str(root / "openapi.json")),
            *("--output-path", str(root / PACKAGE)),
            *("--config", str(root / "config.json")),
            *("--meta", "none"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    sys.path.insert(0, str(root))
    try:
        yield Generated(document, importlib.import_module(PACKAGE), output)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
            del sys.modules[name]


def _operation(generated: Generated, method: str, path: str, status: str) -> Operation:
    """The generated module of ``method path`` and the model class of its ``status`` answer."""
    operation = generated.document["paths"][path][method]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    component = schema["$ref"].removeprefix("#/components/schemas/")
    assert component in generated.document["components"]["schemas"], schema
    tag = snake_case(operation["tags"][0])
    module = importlib.import_module(f"{PACKAGE}.api.{tag}.{snake_case(operation['operationId'])}")
    model = getattr(importlib.import_module(f"{PACKAGE}.models"), component)
    assert isinstance(model, type)
    return Operation(module, model)


def _hints(generated: Generated, model: type[Any]) -> dict[str, Any]:
    """``model``'s resolved annotations (its modules import sibling models only for typing)."""
    models = importlib.import_module(f"{PACKAGE}.models")
    namespace = {**vars(sys.modules[model.__module__]), **vars(models)}
    return typing.get_type_hints(model, globalns=namespace)


def _item(hint: Any) -> Any:
    """The item type of ``list[X]``."""
    assert typing.get_origin(hint) is list, hint
    (item,) = typing.get_args(hint)
    return item


def journal(generated: Generated) -> Operation:
    return _operation(generated, "post", "/v1/journals", "201")


def balances(generated: Generated) -> Operation:
    return _operation(generated, "get", "/v1/ledgers/{ledger_id}/balances", "200")


def record(generated: Generated) -> Operation:
    return _operation(generated, "post", "/v1/records", "201")


def test_the_generator_reports_nothing(generated: Generated) -> None:
    lowered = generated.output.lower()
    assert "warning" not in lowered, generated.output
    assert "unable to parse" not in lowered, generated.output


def test_every_2xx_answer_is_a_document(generated: Generated) -> None:
    for path, item in generated.document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or "content" not in response:
                    continue
                for media_type, content in response["content"].items():
                    if media_type.startswith("text/plain"):
                        continue  # GET /metrics: Prometheus text, a string by nature
                    assert content["schema"].get("type") != "string", (method, path, status)


def test_the_journal_model_is_typed(generated: Generated) -> None:
    hints = _hints(generated, journal(generated).model)
    assert hints["id"] is uuid.UUID
    assert hints["date"] is datetime.date
    assert hints["created_at"] is datetime.datetime
    assert hints["position"] is int
    entry = _item(hints["entries"])
    assert isinstance(entry, type)
    entry_hints = _hints(generated, entry)
    assert entry_hints["id"] is uuid.UUID
    assert entry_hints["ledger_id"] is uuid.UUID
    assert entry_hints["amount"] is int
    assert entry_hints["currency"] is str


def test_the_balances_model_is_typed(generated: Generated) -> None:
    hints = _hints(generated, balances(generated).model)
    assert hints["ledger_id"] is uuid.UUID
    balance = _item(hints["balances"])
    assert isinstance(balance, type)
    balance_hints = _hints(generated, balance)
    assert balance_hints["currency"] is str
    for name in ("posted", "pending", "available"):
        assert balance_hints[name] is int, name


def test_the_record_model_is_typed(generated: Generated) -> None:
    hints = _hints(generated, record(generated).model)
    assert hints["id"] is int
    assert hints["amount"] is int
    assert hints["decimal_places"] is int
    assert hints["date"] is datetime.date
    assert hints["data_stream_key"] is str
    assert isinstance(_item(hints["matched_records"]), type)


def _body(operation: Operation, fields: dict[str, Any]) -> Any:
    """``fields`` as the generated request body model of ``operation``."""
    body_type = typing.get_type_hints(operation.module.asyncio_detailed)["body"]
    return body_type.from_dict(fields)


async def test_the_operations_answer_the_models(
    generated: Generated, client: httpx.AsyncClient, services: Services, acme_key: NewKey
) -> None:
    tenant_id = await services.pool.fetchval("SELECT tenant_id FROM tenants WHERE slug = 'acme'")
    cash = await services.ledgers.open_ledger(tenant_id, code="cash", name="Cash", type="asset")
    await services.ledgers.open_ledger(tenant_id, code="revenue", name="Revenue", type="income")
    client.headers["X-API-KEY"] = acme_key.api_key
    api = generated.package.AuthenticatedClient(base_url=str(client.base_url), token="")
    api.set_async_httpx_client(client)

    posting = journal(generated)
    posted = await posting.module.asyncio_detailed(
        client=api,
        body=_body(
            posting,
            {
                "date": "2026-06-03",
                "entries": [
                    {"ledger_code": "cash", "direction": "debit", "amount": 1000},
                    {"ledger_code": "revenue", "direction": "credit", "amount": 1000},
                ],
            },
        ),
    )
    assert posted.status_code == 201, posted.content
    assert isinstance(posted.parsed, posting.model)
    assert [entry.amount for entry in posted.parsed.entries] == [1000, 1000]

    reading = balances(generated)
    read = await reading.module.asyncio_detailed(cash.ledger_id, client=api)
    assert read.status_code == 200, read.content
    assert isinstance(read.parsed, reading.model)
    assert [balance.posted for balance in read.parsed.balances] == [1000]

    recording = record(generated)
    fields = {"amount": 1000, "direction": "credit", "date": "2026-06-03"}
    recorded = await recording.module.asyncio_detailed(
        client=api, body=_body(recording, {**fields, "data_stream_key": "bank"})
    )
    assert recorded.status_code == 201, recorded.content
    assert isinstance(recorded.parsed, recording.model)
    fetching = _operation(generated, "get", "/v1/records/{record_id}", "200")
    fetched = await fetching.module.asyncio_detailed(recorded.parsed.id, client=api)
    assert fetched.status_code == 200, fetched.content
    assert isinstance(fetched.parsed, fetching.model)
    assert fetched.parsed.to_dict() == recorded.parsed.to_dict()
