"""``JournalPosted`` stored at ``class_version`` 1 (before amendments and reporting currencies)
reads as before: through our mapper, through the stock ``eventsourcing`` Application, and
(tests/projections/test_golden.py, whose ``journals`` and ``fx`` streams are version-1 events)
through every projection's fold."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from ledger.domain.journals import Journal
from ledger.store.mapper import MsgspecMapper

GOLDEN = Path(__file__).resolve().parents[2] / "projections" / "golden" / "books"
POSTED_TOPIC = "ledger.domain.journals:Journal.JournalPosted"


def _v1_posted() -> list[dict[str, Any]]:
    """The ``JournalPosted`` lines of the golden streams, as version 1 stored them."""
    lines = [
        json.loads(line)
        for case in ("journals", "fx")
        for line in (GOLDEN / f"{case}.events.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return [line for line in lines if line["topic"] == POSTED_TOPIC]


def _stored(line: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=uuid.UUID(line["originator_id"]),
        originator_version=line["originator_version"],
        topic=line["topic"],
        state=msgspec.json.encode(line["state"]),
    )


def _assert_as_stored(event: Any, state: dict[str, Any]) -> None:
    """Every version-1 field is what was stored; the version-2 fields are their defaults."""
    assert str(event.tenant_id) == state["tenant_id"]
    assert event.number == state["number"]
    assert event.status == state["status"]
    assert event.effective_date.isoformat() == state["effective_date"]
    assert event.exchange_rates == {k: Decimal(v) for k, v in state["exchange_rates"].items()}
    assert [
        (str(e.entry_id), e.direction, e.amount, e.currency, e.amount_base) for e in event.entries
    ] == [
        (e["entry_id"], e["direction"], e["amount"], e["currency"], e["amount_base"])
        for e in state["entries"]
    ]
    assert event.request_sha256 == state["request_sha256"]
    assert event.amends is None
    assert event.reporting_currency is None
    assert event.reporting_rates == {}
    assert all(e.amount_reporting is None for e in event.entries)


def test_the_golden_journals_are_version_1() -> None:
    posted = _v1_posted()
    assert len(posted) >= 8
    assert all("class_version" not in line["state"] for line in posted)
    assert all("amends" not in line["state"] for line in posted)


def test_our_mapper_upcasts_a_v1_journal_posted() -> None:
    mapper = MsgspecMapper()
    for line in _v1_posted():
        event = mapper.to_domain_event(_stored(line))
        assert isinstance(event, Journal.JournalPosted)
        _assert_as_stored(event, line["state"])
        # Written again, it is a version-2 event with the defaults spelled out.
        state = json.loads(mapper.to_stored_event(event).state)
        assert state["class_version"] == 2
        assert state["amends"] is None
        assert state["reporting_rates"] == {}


def test_the_stock_application_reads_a_v1_journal_posted() -> None:
    app: Application[uuid.UUID] = Application(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.popo",
            "MAPPER_TOPIC": "ledger.store.mapper:MsgspecMapper",
        }
    )
    posted = _v1_posted()
    app.recorder.insert_events([_stored(line) for line in posted])
    for line in posted:
        journal: Journal = app.repository.get(uuid.UUID(line["originator_id"]))
        assert isinstance(journal, Journal)
        _assert_as_stored(journal, line["state"])
        assert journal.version == 1
