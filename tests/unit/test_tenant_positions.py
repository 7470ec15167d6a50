"""``TenantPositions`` (``ledger.projections.tracking``): each tenant's last position as far
as a process knows, exact or ``None`` (then the caller probes the index), bounded."""

from __future__ import annotations

import uuid

from ledger.projections.tracking import TenantPositions

A = uuid.UUID(int=1)
B = uuid.UUID(int=2)
C = uuid.UUID(int=3)


def test_contiguous_commits_answer_exactly_up_to_what_was_seen() -> None:
    tenants = TenantPositions()
    tenants.learn(A, [1, 2])
    tenants.learn(B, [3])
    tenants.learn(B, [4, 5, 6])
    assert tenants.complete_to == 6
    assert tenants.last_at(A, 6) == 2
    assert tenants.last_at(B, 6) == 6
    # Asked about an earlier position than B's last: not known exactly.
    assert tenants.last_at(B, 4) is None
    # Beyond what was seen: unknown, unless the tenant's last is that very position.
    assert tenants.last_at(A, 9) is None
    assert tenants.last_at(C, 6) is None


def test_a_gap_waits_for_the_range_read() -> None:
    tenants = TenantPositions()
    tenants.learn(A, [1])
    tenants.learn(A, [5])  # 2..4 were written by another process
    assert tenants.complete_to == 1
    assert tenants.last_at(A, 5) == 5  # its own last position is the position asked
    assert tenants.last_at(A, 4) is None
    tenants.learn_range(1, 4, {B: 4})
    assert tenants.complete_to == 5  # the run 5..5 joined
    assert tenants.last_at(A, 5) == 5
    assert tenants.last_at(B, 5) == 4


def test_a_probe_is_remembered_only_when_it_cannot_miss_a_seen_event() -> None:
    tenants = TenantPositions()
    tenants.learn_range(0, 10, {A: 10})
    tenants.remember(B, 10, 3)
    assert tenants.last_at(B, 10) == 3
    tenants.remember(C, 9, 2)  # below what was seen: not kept
    assert tenants.last_at(C, 10) is None


def test_eviction_is_bounded_and_never_answers_a_stale_position() -> None:
    tenants = TenantPositions(size_max=2)
    tenants.learn(A, [1])
    tenants.learn(B, [2])
    tenants.learn(A, [3])
    tenants.learn(C, [4])  # evicts B (least recently used)
    assert len(tenants) == 2
    assert tenants.last_at(B, 4) is None
    assert tenants.floor == 2
    # An event of B at or below the floor would not be B's last: it makes no entry.
    tenants.learn_range(4, 4, {})
    assert tenants.last_at(B, 4) is None
    tenants.learn(B, [5])
    assert tenants.last_at(B, 5) == 5


def test_reset_forgets_everything_up_to_the_position() -> None:
    tenants = TenantPositions()
    tenants.learn(A, [1, 2])
    tenants.reset(100)
    assert len(tenants) == 0
    assert tenants.complete_to == tenants.floor == 100
    tenants.learn_range(100, 101, {A: 101})
    assert tenants.last_at(A, 101) == 101
    # A probe at or above the floor is kept.
    tenants.remember(B, 101, 42)
    assert tenants.last_at(B, 101) == 42
