"""The rules of a match (ledger.domain.records), without a database or a batch."""

from __future__ import annotations

import uuid

import pytest

from ledger.domain.ledgers import Direction
from ledger.domain.records import (
    MatchItem,
    check_distinct_items,
    check_match_balances,
    check_not_voided,
    tolerance_at_scale,
)
from ledger.errors import InvalidState, MatchUnbalanced, ValidationError


def item(stream: str, amount: int, direction: Direction, places: int = 2) -> MatchItem:
    return MatchItem(
        entry_id=uuid.uuid4(),
        data_stream_key=stream,
        amount=amount,
        direction=direction,
        decimal_places=places,
    )


def test_an_item_may_appear_once() -> None:
    check_distinct_items([("record", 1), ("record", 2)])
    with pytest.raises(ValidationError) as caught:
        check_distinct_items([("record", 1), ("record", 1)])
    assert caught.value.details == {"field": "$.items"}


def test_an_entry_of_a_voided_journal_is_refused_first_one_named() -> None:
    items = [item("a", 1, "credit"), item("b", 1, "debit"), item("c", 1, "debit")]
    check_not_voided(items, [False, False, False])
    with pytest.raises(InvalidState) as caught:
        check_not_voided(items, [False, True, True])
    assert caught.value.details == {"item_index": 1, "entry_id": str(items[1].entry_id)}


def test_a_match_needs_two_streams_before_the_tolerance_counts() -> None:
    with pytest.raises(MatchUnbalanced) as caught:
        check_match_balances((item("a", 1, "credit"), item("a", 5, "debit")), 0)
    assert caught.value.details == {"reason": "single_data_stream", "data_streams": ["a"]}


def test_the_difference_is_taken_at_the_largest_scale_and_held_to_the_tolerance() -> None:
    # 1.00 (2 places) against 0.995 (3 places): 1000 - 995 = 5 at 3 places.
    items = (item("a", 100, "credit"), item("b", 995, "debit", places=3))
    assert check_match_balances(items, 5) == (5, 3)
    with pytest.raises(MatchUnbalanced) as caught:
        check_match_balances(items, 4)
    assert caught.value.details == {
        "reason": "unbalanced",
        "credits": 1000,
        "debits": 995,
        "difference": 5,
        "tolerance": 4,
        "decimal_places": 3,
    }


def test_a_run_tolerance_at_a_smaller_match_scale_rounds_up() -> None:
    assert tolerance_at_scale(5, 2, 2) == 5
    assert tolerance_at_scale(5, 3, 2) == 1
    assert tolerance_at_scale(10, 3, 2) == 1
    assert tolerance_at_scale(11, 3, 2) == 2
    assert tolerance_at_scale(0, 3, 0) == 0
