"""The reconciliation matcher: agrees with the brute-force reference on random inputs."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.ledgers import Direction
from ledger.domain.reconciliation import (
    Item,
    Proposal,
    Rules,
    first_group,
    normalize_description,
    reconcile,
)
from tests.unit.reconciliation_reference import reference_reconcile

items = st.lists(
    st.builds(
        lambda amount, direction, day, ext, desc: (amount, direction, day, ext, desc),
        st.integers(min_value=1, max_value=60),
        st.sampled_from(["credit", "debit"]),
        st.integers(min_value=0, max_value=20),
        st.sampled_from([None, "a", "b", "c"]),
        st.sampled_from([None, "rent", "fee", "Fee!"]),
    ),
    max_size=40,
)
rules = st.builds(
    Rules,
    match_on=st.frozensets(st.sampled_from(["external_id", "amount", "date", "description"])),
    date_window_days=st.integers(min_value=0, max_value=5),
    amount_tolerance=st.integers(min_value=0, max_value=4),
    allow_one_to_many=st.booleans(),
)


def build(
    raw: list[tuple[int, Direction, int, str | None, str | None]], first_seq: int
) -> list[Item]:
    return [
        Item(
            seq=first_seq + i,
            amount=amount,
            direction=direction,
            day=738000 + day,
            external_id=ext,
            description=normalize_description(desc),
        )
        for i, (amount, direction, day, ext, desc) in enumerate(raw)
    ]


def check(left: list[Item], right: list[Item], how: Rules) -> list[Proposal]:
    fast = reconcile(left, right, how)
    assert fast == reference_reconcile(left, right, how)
    used_left = [i for p in fast for i in p.left]
    used_right = [i for p in fast for i in p.right]
    assert len(used_left) == len(set(used_left))
    assert len(used_right) == len(set(used_right))
    for p in fast:
        total_left = sum(left[i].amount for i in p.left)
        total_right = sum(right[i].amount for i in p.right)
        assert abs(total_left - total_right) <= how.amount_tolerance
        assert p.amount_difference == total_left - total_right
    return fast


@settings(max_examples=300, deadline=None)
@given(left=items, right=items, how=rules)
def test_the_matcher_agrees_with_the_brute_force_reference(
    left: list[tuple[int, Direction, int, str | None, str | None]],
    right: list[tuple[int, Direction, int, str | None, str | None]],
    how: Rules,
) -> None:
    check(build(left, 1), build(right, 1000), how)


def test_larger_random_streams_agree_with_the_reference() -> None:
    rng = random.Random(5)
    for allow in (False, True):
        left = [
            Item(seq=i, amount=rng.randint(1, 400) * 25, direction="credit", day=rng.randint(0, 60))
            for i in range(300)
        ]
        right = [
            Item(seq=i, amount=rng.randint(1, 400) * 25, direction="debit", day=rng.randint(0, 60))
            for i in range(300)
        ]
        how = Rules(
            match_on=frozenset({"amount", "date"}),
            date_window_days=3,
            amount_tolerance=25,
            allow_one_to_many=allow,
        )
        assert check(left, right, how)


def test_nearest_amount_then_nearest_day_wins() -> None:
    left = [Item(seq=1, amount=100, direction="credit", day=10)]
    right = [
        Item(seq=1, amount=101, direction="debit", day=10),
        Item(seq=2, amount=100, direction="debit", day=13),
        Item(seq=3, amount=100, direction="debit", day=8),
        Item(seq=4, amount=100, direction="debit", day=12),
    ]
    how = Rules(match_on=frozenset({"amount", "date"}), date_window_days=3, amount_tolerance=1)
    (proposal,) = check(left, right, how)
    # |amount difference| 0 beats 1; then 2 days apart, the earlier day first (day 8).
    assert proposal.right == (2,)
    assert proposal.days_apart == 2


def test_one_to_many_groups_a_payout_with_its_charges() -> None:
    payout = [Item(seq=1, amount=600, direction="credit", day=5)]
    charges = [
        Item(seq=1, amount=100, direction="debit", day=3),
        Item(seq=2, amount=200, direction="debit", day=4),
        Item(seq=3, amount=300, direction="debit", day=5),
        Item(seq=4, amount=999, direction="debit", day=5),
    ]
    how = Rules(match_on=frozenset({"amount", "date"}), date_window_days=3, allow_one_to_many=True)
    (proposal,) = check(payout, charges, how)
    assert proposal.kind == "one_to_many"
    assert proposal.right == (0, 1, 2)
    assert (proposal.amount_difference, proposal.days_apart) == (0, 2)


def test_first_group_prefers_smaller_groups_then_lexicographic_order() -> None:
    assert first_group([5, 1, 4, 3], 5, 5) == (1, 2)
    assert first_group([1, 1, 1], 3, 3) == (0, 1, 2)
    assert first_group([10, 20], 5, 5) is None


def test_descriptions_are_normalized() -> None:
    assert normalize_description("  Invoice #1001, ACME ") == "invoice 1001 acme"
    assert normalize_description("--") is None
    assert normalize_description(None) is None
