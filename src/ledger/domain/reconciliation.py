"""The reconciliation-run matcher: which items of two streams match, by rules (§6).

Pure code: items in, proposals out; no I/O, no clock, deterministic.

The contract (``tests/unit/reconciliation_reference.py`` implements it by brute force, and a
property test checks the two agree on random inputs):

Items and eligibility
    An item has an amount (> 0, minor units at one scale for both sides), a direction, a day
    (``date.toordinal()``), an order key ``seq`` (unique within its side), an external id and
    a normalized description (:func:`normalize_description`). A left item ``l`` and a right
    item ``r`` may match when all of these hold:

    - their directions differ (a match balances: credits equal debits);
    - ``external_id`` in ``match_on``: both have one, and they are equal;
    - ``description`` in ``match_on``: both have a non-empty normalized description, equal;
    - ``date`` in ``match_on``: ``|l.day - r.day| <= date_window_days``;
    - always: ``|l.amount - r.amount| <= amount_tolerance`` (every match balances within the
      tolerance, so ``amount`` is compared whether or not it is listed).

Pass 1, one-to-one
    Left items in ``(day, seq)`` order each take the unmatched eligible right item that
    minimizes ``(|amount difference|, |days apart|, r.day, r.seq)``, if there is one.

Pass 2, one-to-many (only with ``allow_one_to_many``)
    First each unmatched left item in ``(day, seq)`` order (the "one"), then each unmatched
    right item in that order, looks for a group on the other side. Its candidates are the
    other side's unmatched items that pass the direction, external-id, description and date
    rules against it, in ``(|days apart|, day, seq)`` order; of those, the first
    :data:`GROUP_SCAN_MAX` are looked at, the ones whose amount is at most the one's amount
    plus the tolerance are kept, and the first :data:`GROUP_CANDIDATES_MAX` of them are the
    candidates. The group is the first combination of candidates, by size (2 to
    :data:`GROUP_SIZE_MAX`) and then in lexicographic order of candidate positions, whose sum
    is within the tolerance of the one's amount. The bounds keep the search linear in the
    number of items; they are part of the contract.

Implementation: pass 1 indexes the right side by (direction, exact-match keys) and, within
that, by amount, each amount holding its items sorted by (day, seq): a left item looks up the
amounts within its tolerance (nearest first) and, for each, the nearest days by bisection, so
the run is O(n log n), not O(n x m). Pass 2 walks date-sorted lists outward from the one's day.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from ledger import limits
from ledger.domain.ledgers import Direction
from ledger.domain.records import MatchKind

MATCH_ON_FIELDS: Final = ("external_id", "amount", "date", "description")
DATE_WINDOW_DAYS_MAX: Final = limits.DATE_WINDOW_DAYS_MAX
GROUP_SCAN_MAX: Final = limits.GROUP_SCAN_MAX
GROUP_CANDIDATES_MAX: Final = limits.GROUP_CANDIDATES_MAX
GROUP_SIZE_MAX: Final = limits.GROUP_SIZE_MAX

_NON_WORD = re.compile(r"[\W_]+")


def normalize_description(text: str | None) -> str | None:
    """Case-folded words of ``text`` joined by single spaces (punctuation dropped), or None."""
    if not text:
        return None
    words = _NON_WORD.sub(" ", text.casefold()).split()
    return " ".join(words) or None


@dataclass(frozen=True, slots=True)
class Item:
    seq: int
    amount: int
    direction: Direction
    day: int
    external_id: str | None = None
    description: str | None = None  # normalized


@dataclass(frozen=True, slots=True)
class Rules:
    match_on: frozenset[str]
    date_window_days: int = 0
    amount_tolerance: int = 0
    allow_one_to_many: bool = False

    @property
    def window(self) -> int | None:
        """The date window in days, or None when dates are not compared."""
        return self.date_window_days if "date" in self.match_on else None


@dataclass(frozen=True, slots=True)
class Proposal:
    """A match the run proposes: positions of its items in the left and right inputs."""

    kind: MatchKind
    left: tuple[int, ...]
    right: tuple[int, ...]
    amount_difference: int  # sum(left amounts) - sum(right amounts)
    days_apart: int


_OPPOSITE: Final = {"credit": "debit", "debit": "credit"}
_Key = tuple[str, str | None, str | None]


def _own_key(item: Item, rules: Rules, direction: str) -> _Key | None:
    external_id = description = None
    if "external_id" in rules.match_on:
        if item.external_id is None:
            return None
        external_id = item.external_id
    if "description" in rules.match_on:
        if not item.description:
            return None
        description = item.description
    return (direction, external_id, description)


def _order(items: Sequence[Item]) -> list[int]:
    return sorted(range(len(items)), key=lambda i: (items[i].day, items[i].seq))


class _Bucket:
    """Unmatched items of one key, by amount; each amount's items sorted by (day, seq)."""

    __slots__ = ("amounts", "by_amount")

    def __init__(self) -> None:
        self.amounts: list[int] = []
        self.by_amount: dict[int, list[tuple[int, int, int]]] = {}

    def remove(self, amount: int, entry: tuple[int, int, int]) -> None:
        items = self.by_amount[amount]
        del items[bisect_left(items, entry)]
        if not items:
            del self.by_amount[amount]
            del self.amounts[bisect_left(self.amounts, amount)]


def _nearest(
    items: list[tuple[int, int, int]], day: int, window: int | None
) -> tuple[int, int, int] | None:
    """The entry of ``items`` nearest to ``day`` (ties: earlier day, then lower seq)."""
    k = bisect_left(items, (day,))
    best: tuple[int, int, int] | None = None
    if k < len(items):
        best = items[k]
    if k > 0:
        before_day = items[k - 1][0]
        candidate = items[bisect_left(items, (before_day,))]
        if best is None or day - before_day <= best[0] - day:
            best = candidate
    if best is None or (window is not None and abs(best[0] - day) > window):
        return None
    return best


def _index_by_amount(right: Sequence[Item], rules: Rules) -> dict[_Key, _Bucket]:
    """The right items with an own key, in buckets by key (pass 1's index)."""
    buckets: dict[_Key, _Bucket] = {}
    for index in _order(right):
        item = right[index]
        key = _own_key(item, rules, item.direction)
        if key is None:
            continue
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = _Bucket()
        bucket.by_amount.setdefault(item.amount, []).append((item.day, item.seq, index))
    for bucket in buckets.values():
        bucket.amounts = sorted(bucket.by_amount)
    return buckets


def _amounts_nearest_first(
    amounts: list[int], amount: int, tolerance: int
) -> Iterator[tuple[int, int]]:
    """(gap, amount) for the sorted ``amounts`` within ``tolerance`` of ``amount``, smallest
    gap first (on a tie, the amount above first)."""
    up = bisect_left(amounts, amount)
    down = up - 1
    while True:
        gap_up = amounts[up] - amount if up < len(amounts) else None
        gap_down = amount - amounts[down] if down >= 0 else None
        if gap_up is not None and gap_up > tolerance:
            gap_up = None
        if gap_down is not None and gap_down > tolerance:
            gap_down = None
        if gap_up is None and gap_down is None:
            return
        if gap_down is None or (gap_up is not None and gap_up <= gap_down):
            assert gap_up is not None
            yield gap_up, amounts[up]
            up += 1
        else:
            yield gap_down, amounts[down]
            down -= 1


def _best_in_bucket(
    bucket: _Bucket, item: Item, tolerance: int, window: int | None
) -> tuple[int, tuple[int, int, int]] | None:
    """The amount and entry of the bucket's item that minimizes (|amount difference|,
    |days apart|, day, seq) for ``item``, or None when none is within the rules."""
    best: tuple[int, int, int, int, int] | None = None  # |da|, |dd|, day, seq, amount
    best_entry: tuple[int, int, int] | None = None
    for gap, amount in _amounts_nearest_first(bucket.amounts, item.amount, tolerance):
        if best is not None and gap > best[0]:
            break
        entry = _nearest(bucket.by_amount[amount], item.day, window)
        if entry is None:
            continue
        rank = (gap, abs(entry[0] - item.day), entry[0], entry[1], amount)
        if best is None or rank < best:
            best, best_entry = rank, entry
    if best is None or best_entry is None:
        return None
    return best[4], best_entry


def _one_to_one(
    left: Sequence[Item], right: Sequence[Item], rules: Rules, matched_right: list[bool]
) -> tuple[list[Proposal], list[bool]]:
    buckets = _index_by_amount(right, rules)
    matched_left = [False] * len(left)
    proposals: list[Proposal] = []
    for index in _order(left):
        item = left[index]
        key = _own_key(item, rules, _OPPOSITE[item.direction])
        bucket = buckets.get(key) if key is not None else None
        if bucket is None or not bucket.amounts:
            continue
        best = _best_in_bucket(bucket, item, rules.amount_tolerance, rules.window)
        if best is None:
            continue
        amount, entry = best
        other = entry[2]
        bucket.remove(amount, entry)
        matched_left[index] = True
        matched_right[other] = True
        proposals.append(
            Proposal(
                kind="one_to_one",
                left=(index,),
                right=(other,),
                amount_difference=item.amount - right[other].amount,
                days_apart=abs(item.day - right[other].day),
            )
        )
    return proposals, matched_left


def _walk(lst: list[tuple[int, int, int]], day: int) -> Iterator[tuple[int, int, int]]:
    """Entries of the (day, seq)-sorted ``lst`` in (|day difference|, day, seq) order."""
    after = bisect_left(lst, (day,))
    before_end = after
    block: list[tuple[int, int, int]] = []
    while True:
        if not block and before_end > 0:
            block_day = lst[before_end - 1][0]
            start = bisect_left(lst, (block_day,), 0, before_end)
            block = lst[start:before_end]
            before_end = start
        if block and (after >= len(lst) or day - block[0][0] <= lst[after][0] - day):
            yield from block
            block = []
        elif after < len(lst):
            yield lst[after]
            after += 1
        else:
            return


def first_group(amounts: Sequence[int], low: int, high: int) -> tuple[int, ...] | None:
    """The first combination of positions (size 2 .. GROUP_SIZE_MAX, then lexicographic)
    whose amounts sum to a value in [low, high]; amounts are positive."""
    n = len(amounts)
    suffix_max = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix_max[i] = max(amounts[i], suffix_max[i + 1])
    chosen: list[int] = []

    def search(start: int, left: int, total: int) -> bool:
        if left == 0:
            return low <= total <= high
        if total + left * suffix_max[start] < low:
            return False
        for i in range(start, n - left + 1):
            value = total + amounts[i]
            if value > high:
                continue
            chosen.append(i)
            if search(i + 1, left - 1, value):
                return True
            chosen.pop()
        return False

    for size in range(2, GROUP_SIZE_MAX + 1):
        if size > n:
            break
        if search(0, size, 0):
            return tuple(chosen)
    return None


def _index_by_day(
    many: Sequence[Item], matched_many: list[bool], rules: Rules
) -> dict[_Key, list[tuple[int, int, int]]]:
    """The unmatched items with an own key, by key, each list in (day, seq) order."""
    lists: dict[_Key, list[tuple[int, int, int]]] = {}
    for index in _order(many):
        if matched_many[index]:
            continue
        item = many[index]
        key = _own_key(item, rules, item.direction)
        if key is not None:
            lists.setdefault(key, []).append((item.day, item.seq, index))
    return lists


def _group_candidates(
    lst: list[tuple[int, int, int]],
    one: Item,
    many: Sequence[Item],
    matched_many: list[bool],
    rules: Rules,
) -> list[int]:
    """The candidates of the module docstring's pass 2 for ``one``, in order."""
    window = rules.window
    candidates: list[int] = []
    scanned = 0
    for day, _seq, other in _walk(lst, one.day):
        if window is not None and abs(day - one.day) > window:
            break
        if matched_many[other]:
            continue
        scanned += 1
        if scanned > GROUP_SCAN_MAX:
            break
        if many[other].amount <= one.amount + rules.amount_tolerance:
            candidates.append(other)
            if len(candidates) == GROUP_CANDIDATES_MAX:
                break
    return candidates


def _one_to_many(
    ones: Sequence[Item],
    many: Sequence[Item],
    matched_ones: list[bool],
    matched_many: list[bool],
    rules: Rules,
) -> list[tuple[int, tuple[int, ...], int]]:
    """(one position, many positions, days apart) for each group found, in order."""
    lists = _index_by_day(many, matched_many, rules)
    tolerance = rules.amount_tolerance
    found: list[tuple[int, tuple[int, ...], int]] = []
    for index in _order(ones):
        if matched_ones[index]:
            continue
        item = ones[index]
        key = _own_key(item, rules, _OPPOSITE[item.direction])
        lst = lists.get(key) if key is not None else None
        if not lst:
            continue
        candidates = _group_candidates(lst, item, many, matched_many, rules)
        group = first_group(
            [many[c].amount for c in candidates], item.amount - tolerance, item.amount + tolerance
        )
        if group is None:
            continue
        members = tuple(candidates[g] for g in group)
        matched_ones[index] = True
        for member in members:
            matched_many[member] = True
        found.append((index, members, max(abs(many[m].day - item.day) for m in members)))
    return found


def reconcile(left: Sequence[Item], right: Sequence[Item], rules: Rules) -> list[Proposal]:
    """The matches of ``left`` against ``right`` under ``rules`` (see the module docstring),
    one-to-one first, in the order they were found."""
    assert rules.match_on <= frozenset(MATCH_ON_FIELDS)
    assert rules.amount_tolerance >= 0
    matched_right = [False] * len(right)
    proposals, matched_left = _one_to_one(left, right, rules, matched_right)
    if not rules.allow_one_to_many:
        return proposals
    for one, members, days in _one_to_many(left, right, matched_left, matched_right, rules):
        total = sum(right[m].amount for m in members)
        proposals.append(
            Proposal(
                kind="one_to_many",
                left=(one,),
                right=tuple(sorted(members, key=lambda m: (right[m].day, right[m].seq))),
                amount_difference=left[one].amount - total,
                days_apart=days,
            )
        )
    for one, members, days in _one_to_many(right, left, matched_right, matched_left, rules):
        total = sum(left[m].amount for m in members)
        proposals.append(
            Proposal(
                kind="one_to_many",
                left=tuple(sorted(members, key=lambda m: (left[m].day, left[m].seq))),
                right=(one,),
                amount_difference=total - right[one].amount,
                days_apart=days,
            )
        )
    return proposals


__all__ = [
    "DATE_WINDOW_DAYS_MAX",
    "GROUP_CANDIDATES_MAX",
    "GROUP_SCAN_MAX",
    "GROUP_SIZE_MAX",
    "MATCH_ON_FIELDS",
    "Item",
    "Proposal",
    "Rules",
    "first_group",
    "normalize_description",
    "reconcile",
]
