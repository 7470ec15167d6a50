"""The stored format of events (``MsgspecMapper``): exact round trips, compact JSON without the
identity columns, and ``class_version`` upcasting."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import limits
from ledger.errors import PayloadTooLarge
from ledger.store.mapper import MsgspecMapper
from tests.store_helpers import Leg, Money, PlainEvent, RenamedV2, RichEvent, ScalarEvent

EXACT_DECIMAL = Decimal("0.1000000000000000055511151231257827")


@pytest.fixture
def mapper() -> MsgspecMapper:
    return MsgspecMapper()


def _rich_event() -> RichEvent:
    account_a, account_b = uuid.uuid4(), uuid.uuid4()
    return RichEvent(
        originator_id=uuid.uuid4(),
        originator_version=7,
        timestamp=RichEvent.create_timestamp(),
        ref=uuid.uuid4(),
        amount=EXACT_DECIMAL,
        booked_at=datetime(
            2024, 2, 29, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
        ),
        value_date=date(2024, 2, 29),
        total=Money(Decimal("1234567890123456789.000000001"), "EUR"),
        legs=(
            Leg(account_a, Money(Decimal("-10.50"), "EUR"), memo="débit ✓"),
            Leg(account_b, Money(Decimal("10.50"), "EUR")),
        ),
        big=2**63 - 1,
        small=-(2**63),
        note=None,
        tags=("a", "ü", ""),
    )


def _state(stored: StoredEvent) -> dict[str, Any]:
    decoded = json.loads(stored.state)
    assert isinstance(decoded, dict)
    return decoded


def test_rich_event_round_trips_exactly(mapper: MsgspecMapper) -> None:
    event = _rich_event()

    decoded = mapper.to_domain_event(mapper.to_stored_event(event))

    assert type(decoded) is RichEvent
    assert decoded == event
    # Exact, not merely equal: same digits and exponent, same offset, same types.
    assert str(decoded.amount) == "0.1000000000000000055511151231257827"
    assert decoded.amount.as_tuple() == EXACT_DECIMAL.as_tuple()
    assert decoded.legs[0].money.amount.as_tuple() == Decimal("-10.50").as_tuple()
    assert decoded.booked_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert decoded.timestamp == event.timestamp
    assert decoded.timestamp.tzinfo is not None
    assert isinstance(decoded.ref, uuid.UUID)
    assert type(decoded.value_date) is date
    assert isinstance(decoded.total, Money)
    assert isinstance(decoded.legs, tuple)
    assert all(isinstance(leg, Leg) for leg in decoded.legs)
    assert decoded.big == 2**63 - 1
    assert decoded.small == -(2**63)
    assert decoded.originator_id == event.originator_id
    assert decoded.originator_version == 7


def test_stored_state_is_compact_json_without_identity_fields(mapper: MsgspecMapper) -> None:
    event = _rich_event()

    stored = mapper.to_stored_event(event)

    assert stored.originator_id == event.originator_id
    assert stored.originator_version == event.originator_version
    assert stored.topic == "tests.store_helpers:RichEvent" == get_topic(RichEvent)
    state = _state(stored)
    assert "originator_id" not in state
    assert "originator_version" not in state
    assert "class_version" not in state
    assert set(state) == {
        f for f in vars(event) if f not in {"originator_id", "originator_version"}
    }
    # Compact: re-encoding the parsed object without whitespace gives the same bytes.
    compact = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
    assert stored.state == compact
    # Plain JSON values, readable by any JSON tool (no {"_type_", "_data_"} wrappers).
    assert state["amount"] == "0.1000000000000000055511151231257827"
    assert state["ref"] == str(event.ref)
    assert state["value_date"] == "2024-02-29"
    assert state["booked_at"] == "2024-02-29T23:59:58.123456+05:30"
    assert state["total"] == {"amount": "1234567890123456789.000000001", "currency": "EUR"}
    assert state["legs"][1] == {
        "account": str(event.legs[1].account),
        "money": {"amount": "10.50", "currency": "EUR"},
        "memo": None,
    }
    assert state["big"] == 2**63 - 1
    assert state["timestamp"].endswith("Z")


def test_class_version_1_is_omitted_and_2_is_stored(mapper: MsgspecMapper) -> None:
    v1 = PlainEvent(
        originator_id=uuid.uuid4(),
        originator_version=1,
        timestamp=PlainEvent.create_timestamp(),
        name="a",
    )
    v2 = RenamedV2(
        originator_id=uuid.uuid4(),
        originator_version=1,
        timestamp=RenamedV2.create_timestamp(),
        name="b",
        reason="typo",
    )

    assert "class_version" not in _state(mapper.to_stored_event(v1))
    assert _state(mapper.to_stored_event(v2))["class_version"] == 2
    assert mapper.to_domain_event(mapper.to_stored_event(v2)) == v2


def test_event_stored_at_v1_is_upcast_to_v2_on_decode(mapper: MsgspecMapper) -> None:
    # Bytes as the v1 class wrote them: no "reason" field and no class_version.
    originator_id = uuid.uuid4()
    stored = StoredEvent(
        originator_id=originator_id,
        originator_version=3,
        topic=get_topic(RenamedV2),
        state=b'{"timestamp":"2023-05-01T12:00:00.000001Z","name":"old name"}',
    )

    decoded = mapper.to_domain_event(stored)

    assert isinstance(decoded, RenamedV2)
    assert decoded.name == "old name"
    assert decoded.reason == "unknown (stored before v2)"
    assert decoded.originator_id == originator_id
    assert decoded.originator_version == 3
    assert decoded.timestamp == datetime(2023, 5, 1, 12, 0, 0, 1, tzinfo=UTC)


def test_event_stored_by_newer_code_is_refused(mapper: MsgspecMapper) -> None:
    stored = StoredEvent(
        originator_id=uuid.uuid4(),
        originator_version=1,
        topic=get_topic(RenamedV2),
        state=b'{"timestamp":"2023-05-01T12:00:00Z","name":"n","reason":"r","class_version":3}',
    )

    with pytest.raises(MapperDeserialisationError):
        mapper.to_domain_event(stored)


def test_mapper_refuses_cipher_and_compressor() -> None:
    from eventsourcing.compressor import ZlibCompressor

    with pytest.raises(ValueError, match="no compressor or cipher"):
        MsgspecMapper(compressor=ZlibCompressor())


@settings(max_examples=300, deadline=None)
@given(
    number=st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(),
    text=st.text(),
    decimal=st.decimals(allow_nan=True, allow_infinity=True),
)
def test_scalar_round_trip_is_identity(number: int, text: str, decimal: Decimal) -> None:
    mapper = MsgspecMapper()
    event = ScalarEvent(
        originator_id=uuid.uuid4(),
        originator_version=1,
        timestamp=ScalarEvent.create_timestamp(),
        number=number,
        text=text,
        decimal=decimal,
    )

    decoded = mapper.to_domain_event(mapper.to_stored_event(event))

    assert isinstance(decoded, ScalarEvent)
    assert type(decoded.number) is int
    assert decoded.number == number
    assert decoded.text == text
    # as_tuple is exact (sign, digits, exponent) and also compares NaN/Infinity.
    assert decoded.decimal.as_tuple() == decimal.as_tuple()
    assert decoded.decimal.is_snan() == decimal.is_snan()


def _plain_event_of_state_bytes(mapper: MsgspecMapper, size: int) -> PlainEvent:
    """A PlainEvent whose stored state is exactly ``size`` bytes (its name pads it)."""
    originator_id, timestamp = uuid.uuid4(), PlainEvent.create_timestamp()

    def event(name: str) -> PlainEvent:
        return PlainEvent(
            originator_id=originator_id, originator_version=1, timestamp=timestamp, name=name
        )

    overhead = len(mapper.to_stored_event(event("")).state)
    return event("x" * (size - overhead))


def test_state_of_the_bound_is_stored_and_one_byte_more_is_refused(mapper: MsgspecMapper) -> None:
    at_bound = _plain_event_of_state_bytes(mapper, limits.STATE_BYTES_MAX)
    assert len(mapper.to_stored_event(at_bound).state) == limits.STATE_BYTES_MAX

    over = _plain_event_of_state_bytes(mapper, limits.STATE_BYTES_MAX + 1)
    with pytest.raises(PayloadTooLarge) as refused:
        mapper.to_stored_event(over)
    assert refused.value.status_code == 413
    assert refused.value.details == {
        "state_bytes": limits.STATE_BYTES_MAX + 1,
        "state_bytes_max": limits.STATE_BYTES_MAX,
    }
    assert "PlainEvent" in refused.value.message
