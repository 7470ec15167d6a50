"""The schemathesis scenario: generated requests against a running service, every answer checked.

``run_fuzz(base_url, api_key, cases=2000)`` loads ``/schema/openapi.json`` from the service,
seeds a few real resources (``seed_resources``) so path parameters can name ids that exist,
then sends at least ``cases`` generated requests (positive and negative data, for every
operation, authenticated with ``X-API-KEY``) and runs these checks on every answer:

- ``not_a_server_error``: no 5xx. The one 5xx the contract asks for on valid input, 503 for a
  ``min_position`` the log has not reached, is avoided rather than excused: such a value is
  lowered to the seeded position before sending (waiting 5 s per case would be most of the run).
- ``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance``: the answer is one the document lists, in its shape.
- ``negative_data_rejection``: data the document calls invalid is refused with a 4xx.
- ``ignored_auth``: an operation that needs a key refuses a request without one.
- ``missing_required_header``, ``unsupported_method``, ``allow_header_conformance``: on the
  coverage cases, a missing required header is refused, an undeclared method is 405 with
  ``Allow``, and ``OPTIONS`` lists exactly the documented methods.

The report counts cases, answers by status and failures by check, and lists each distinct
failure once with a curl command that reproduces it. ``FuzzReport.ok`` is true only with no
failure at all.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from schemathesis import BaseSchema
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

DEFAULT_CASES: Final = 2000
REQUEST_TIMEOUT_SECONDS: Final = 30.0
# Passes over the operations until ``cases`` requests are sent; small operations (no
# parameters) run out of new examples, so a pass may send fewer than its share.
PASSES_MAX: Final = 6
MODES: Final = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

CheckFunction = Callable[..., Any]
Operation = schemathesis.APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]
CHECKS: Final[dict[str, CheckFunction]] = {
    "not_a_server_error": not_a_server_error,
    "status_code_conformance": status_code_conformance,
    "content_type_conformance": content_type_conformance,
    "response_headers_conformance": response_headers_conformance,
    "response_schema_conformance": response_schema_conformance,
    "negative_data_rejection": negative_data_rejection,
    "ignored_auth": ignored_auth,
    # These judge only the coverage phase's cases (a missing header, an undeclared method,
    # OPTIONS).
    "missing_required_header": missing_required_header,
    "unsupported_method": unsupported_method,
    "allow_header_conformance": allow_header_conformance,
}


@dataclass(frozen=True)
class Finding:
    """One distinct failure: which check, on which operation, with which answer."""

    check: str
    operation: str
    status: int
    title: str


@dataclass
class FuzzReport:
    """The figures of a run and each distinct failure with one reproduction."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    findings: dict[Finding, str] = field(default_factory=dict)
    operations: int = 0
    coverage_cases: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        """The figures as printed by ``python -m tests.fuzz``."""
        lines = [
            f"schemathesis: {self.cases} cases over {self.operations} operations"
            f" ({self.coverage_cases} coverage, {self.cases - self.coverage_cases} fuzzing)",
            "  answers by status: "
            + ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items())),
            "  failures by check:",
            *(f"    {name}: {self.failures.get(name, 0)}" for name in CHECKS),
        ]
        for finding, curl in self.findings.items():
            lines.append(
                f"  FAIL {finding.check} {finding.operation} -> {finding.status}: {finding.title}"
            )
            lines.append(f"    {curl}")
        lines.append("schemathesis: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


@dataclass(frozen=True)
class Seeded:
    """Real ids by path-parameter name, and the log position after seeding."""

    path_values: dict[str, str]
    position: int


def _post(client: httpx.Client, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), (path, response.status_code, response.text)
    answer: dict[str, Any] = response.json()
    return answer


def seed_resources(client: httpx.Client) -> Seeded:
    """Two ledgers, a posted and a pending journal, two records, a match and a run."""
    tag = uuid.uuid4().hex[:8]
    cash = _post(
        client,
        "/v1/ledgers",
        {"code": f"cash-{tag}", "name": "Cash", "type": "asset", "currency": "USD"},
    )
    revenue = _post(client, "/v1/ledgers", {"code": f"rev-{tag}", "name": "Rev", "type": "income"})
    entries = [
        {"ledger_id": cash["id"], "direction": "debit", "amount": 1000},
        {"ledger_id": revenue["id"], "direction": "credit", "amount": 1000},
    ]
    posted = _post(client, "/v1/journals", {"date": "2026-06-03", "entries": entries})
    pending = _post(
        client, "/v1/journals", {"date": "2026-06-03", "status": "pending", "entries": entries}
    )
    stream = f"bank-{tag}"
    record = {
        "amount": 1000,
        "direction": "credit",
        "date": "2026-06-03",
        "data_stream_key": stream,
    }
    first = _post(client, "/v1/records", record)
    _post(client, "/v1/records", {**record, "amount": 500})
    cash_entry = next(e for e in posted["entries"] if e["ledger_id"] == cash["id"])
    match = _post(
        client,
        "/v1/matches",
        {"items": [{"record_id": first["id"]}, {"entry_id": cash_entry["id"]}]},
    )
    run = _post(client, "/v1/reconciliation-runs", {"left": stream, "right": f"ledger:cash-{tag}"})
    values = {
        "ledger_id": cash["id"],
        "journal_id": pending["id"],
        "record_id": str(first["id"]),
        "match_id": str(match["id"]),
        "run_id": str(run["id"]),
    }
    return Seeded(values, max(int(run["position"]), int(match["position"])))


def _lower_min_position(query: dict[str, Any] | None, position: int) -> None:
    """A ``min_position`` beyond the log waits 5 s for its 503: send one the log has reached."""
    if not query or "min_position" not in query:
        return
    value = str(query["min_position"])
    if value.isdigit() and int(value) > position:
        query["min_position"] = str(position)


def _authenticate(case: Case, headers: Mapping[str, str]) -> None:
    """Our key in ``X-API-KEY``, and no generated credentials beside it (those would be 401s)."""
    if case.headers is None:
        return
    for name in [n for n in case.headers if n.lower() in ("authorization", "x-api-key")]:
        del case.headers[name]
    case.headers.update(headers)


class _Runner:
    """Sends cases and records what every check says about the answers."""

    def __init__(self, base_url: str, api_key: str, seeded: Seeded) -> None:
        self.base_url = base_url
        self.headers = {"X-API-KEY": api_key}
        self.seeded = seeded
        self.session = requests.Session()
        self.report = FuzzReport()
        self.auth_enforced: set[str] = set()

    def run_case(self, case: Case) -> None:
        _lower_min_position(case.query, self.seeded.position)
        _authenticate(case, self.headers)
        response = case.call(
            base_url=self.base_url,
            session=self.session,
            headers=self.headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        self.report.cases += 1
        self.report.statuses[response.status_code] += 1
        for name, check in CHECKS.items():
            if name == "ignored_auth" and case.operation.label in self.auth_enforced:
                continue
            failures = self._failures(case, response, check)
            for failure in failures:
                self._record(name, case, response, failure)
            if name == "ignored_auth" and not failures and 200 <= response.status_code < 300:
                # It probed without and with a wrong key and both were refused: once per
                # operation is enough (as schemathesis' own runner does), probes are requests.
                self.auth_enforced.add(case.operation.label)

    def _failures(
        self, case: Case, response: schemathesis.Response, check: CheckFunction
    ) -> tuple[Failure, ...]:
        try:
            case.validate_response(
                response,
                checks=[check],
                headers=self.headers,
                transport_kwargs={
                    "base_url": self.base_url,
                    "headers": self.headers,
                    "session": self.session,
                    "timeout": REQUEST_TIMEOUT_SECONDS,
                },
            )
        except FailureGroup as group:
            return tuple(group.exceptions)
        return ()

    def _record(
        self,
        name: str,
        case: Case,
        response: schemathesis.Response,
        failure: Failure,
    ) -> None:
        self.report.failures[name] += 1
        finding = Finding(name, case.operation.label, response.status_code, failure.title)
        if finding not in self.report.findings:
            curl = case.as_curl_command(headers={"X-API-KEY": "<key>"})
            self.report.findings[finding] = f"{curl}\n    => {response.text[:300]}"


def _strategy(
    operation: Operation, mode: GenerationMode, seeded: Seeded
) -> st.SearchStrategy[Case]:
    """Generated cases; half of them name real ids where the path has parameters we seeded."""
    generated = operation.as_strategy(mode)
    names = {p.name for p in operation.iter_parameters() if p.location.name.lower() == "path"}
    if not names or not names <= seeded.path_values.keys():
        return generated
    real = {name: seeded.path_values[name] for name in names}
    return st.one_of(generated, operation.as_strategy(mode, path_parameters=real))


def _fuzz_operation(
    runner: _Runner,
    operation: Operation,
    mode: GenerationMode,
    examples: int,
    seed: int,
) -> None:
    before = runner.report.cases

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis_seed(seed)
    @given(case=_strategy(operation, mode, runner.seeded))
    def send(case: Case) -> None:
        runner.run_case(case)

    try:
        send()
    except HypothesisException:
        # Unsatisfiable: nothing negative to make of an operation without parameters or body.
        assert runner.report.cases >= before


def _operation(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def _cover_operation(runner: _Runner, schema: BaseSchema, operation: Operation) -> None:
    """Schemathesis' coverage cases: boundary values, each constraint broken once, bad methods."""
    for case in schema.iter_coverage_cases(
        operation,
        generation_modes=list(MODES),
        generation_config=schema.config.generation_for(operation=operation),
    ):
        runner.run_case(case)


def run_fuzz(
    base_url: str,
    api_key: str,
    *,
    cases: int = DEFAULT_CASES,
    coverage: bool = True,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Generated requests against the service at ``base_url``; the report.

    With ``coverage``, first every case of schemathesis' coverage phase (about 3,000, the same
    each run); then at least ``cases`` random ones (hypothesis, ``seed``), positive and
    negative, spread over the operations. Writes to the tenant of ``api_key`` (seeded
    resources and whatever the generated requests create): give it a tenant of its own.
    """
    base_url = base_url.rstrip("/")
    schema = schemathesis.openapi.from_url(
        f"{base_url}/schema/openapi.json", config=schemathesis.Config()
    )
    with httpx.Client(base_url=base_url, headers={"X-API-KEY": api_key}, timeout=30) as client:
        seeded = seed_resources(client)
    runner = _Runner(base_url, api_key, seeded)
    operations = [_operation(result) for result in schema.get_all_operations()]
    runner.report.operations = len(operations)
    say = progress or (lambda _line: None)
    if coverage:
        for operation in operations:
            _cover_operation(runner, schema, operation)
        runner.report.coverage_cases = runner.report.cases
        say(f"coverage phase: {runner.report.coverage_cases} cases")
    target = runner.report.cases + cases
    for number in range(PASSES_MAX):
        share = max(1, math.ceil((target - runner.report.cases) / (len(operations) * len(MODES))))
        for operation in operations:
            for mode in MODES:
                _fuzz_operation(runner, operation, mode, share, seed + number)
        say(f"fuzzing pass {number + 1}: {runner.report.cases} cases in all")
        if runner.report.cases >= target:
            break
    return runner.report
