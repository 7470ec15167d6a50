"""A brute-force reference of the reconciliation matcher's contract.

It follows the contract in ``ledger.domain.reconciliation``'s docstring literally, scanning
every pair (O(n x m)) and enumerating every combination with ``itertools``; the property test
checks that the fast matcher proposes exactly the same matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from ledger.domain.reconciliation import (
    GROUP_CANDIDATES_MAX,
    GROUP_SCAN_MAX,
    GROUP_SIZE_MAX,
    Item,
    Proposal,
    Rules,
)


def _keys_agree(a: Item, b: Item, rules: Rules) -> bool:
    if a.direction == b.direction:
        return False
    if "external_id" in rules.match_on and (
        a.external_id is None or a.external_id != b.external_id
    ):
        return False
    if "description" in rules.match_on and (not a.description or a.description != b.description):
        return False
    window = rules.window
    return window is None or abs(a.day - b.day) <= window


def _groups(
    ones: Sequence[Item],
    many: Sequence[Item],
    matched_ones: list[bool],
    matched_many: list[bool],
    rules: Rules,
) -> list[tuple[int, tuple[int, ...], int]]:
    found = []
    tolerance = rules.amount_tolerance
    for index in sorted(range(len(ones)), key=lambda i: (ones[i].day, ones[i].seq)):
        if matched_ones[index]:
            continue
        one = ones[index]
        eligible = [
            j for j in range(len(many)) if not matched_many[j] and _keys_agree(one, many[j], rules)
        ]
        eligible.sort(key=lambda j: (abs(many[j].day - one.day), many[j].day, many[j].seq))
        scanned = eligible[:GROUP_SCAN_MAX]
        candidates = [j for j in scanned if many[j].amount <= one.amount + tolerance]
        candidates = candidates[:GROUP_CANDIDATES_MAX]
        group = None
        for size in range(2, GROUP_SIZE_MAX + 1):
            for combo in combinations(range(len(candidates)), size):
                total = sum(many[candidates[c]].amount for c in combo)
                if abs(one.amount - total) <= tolerance:
                    group = tuple(candidates[c] for c in combo)
                    break
            if group is not None:
                break
        if group is None:
            continue
        matched_ones[index] = True
        for member in group:
            matched_many[member] = True
        found.append((index, group, max(abs(many[m].day - one.day) for m in group)))
    return found


def reference_reconcile(
    left: Sequence[Item], right: Sequence[Item], rules: Rules
) -> list[Proposal]:
    matched_left = [False] * len(left)
    matched_right = [False] * len(right)
    proposals: list[Proposal] = []
    for index in sorted(range(len(left)), key=lambda i: (left[i].day, left[i].seq)):
        item = left[index]
        best = None
        for j, other in enumerate(right):
            if matched_right[j] or not _keys_agree(item, other, rules):
                continue
            gap = abs(item.amount - other.amount)
            if gap > rules.amount_tolerance:
                continue
            rank = (gap, abs(item.day - other.day), other.day, other.seq)
            if best is None or rank < best[0]:
                best = (rank, j)
        if best is None:
            continue
        j = best[1]
        matched_left[index] = matched_right[j] = True
        proposals.append(
            Proposal(
                kind="one_to_one",
                left=(index,),
                right=(j,),
                amount_difference=item.amount - right[j].amount,
                days_apart=abs(item.day - right[j].day),
            )
        )
    if not rules.allow_one_to_many:
        return proposals
    for one, members, days in _groups(left, right, matched_left, matched_right, rules):
        proposals.append(
            Proposal(
                kind="one_to_many",
                left=(one,),
                right=tuple(sorted(members, key=lambda m: (right[m].day, right[m].seq))),
                amount_difference=left[one].amount - sum(right[m].amount for m in members),
                days_apart=days,
            )
        )
    for one, members, days in _groups(right, left, matched_right, matched_left, rules):
        proposals.append(
            Proposal(
                kind="one_to_many",
                left=tuple(sorted(members, key=lambda m: (left[m].day, left[m].seq))),
                right=(one,),
                amount_difference=sum(left[m].amount for m in members) - right[one].amount,
                days_apart=days,
            )
        )
    return proposals
