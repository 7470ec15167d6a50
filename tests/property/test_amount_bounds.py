"""No sequence of postings takes a total or balance outside int64, and every refused one
writes nothing (hypothesis; docs/api.md §1 Money, 422 AMOUNT_OVERFLOW).

Amounts are drawn near the top of the range, over a small ledger tree, with pending holds,
commits, voids and reversals, so that ledgers, their parents' roll-ups and the journals' own
totals all reach the bound. After every command: each read table row of the books is within
the range (own and including children, posted plus pending per side, base totals), every
balance read answers, and a refused command left the log where it was.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import limits
from ledger.bootstrap import Services
from ledger.commands.journals import EntryInput, PostJournal, reverse_journal
from ledger.errors import AmountOverflow, LedgerError
from ledger.queries.balances import ledger_balances, ledger_head
from ledger.queries.ledgers import LedgerRef
from tests.property.conftest import Acceptance

MAX = limits.TOTAL_MINOR_MAX
amounts = st.one_of(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=MAX // 3, max_value=MAX),
)
moves = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),  # debit ledger
        st.integers(min_value=0, max_value=4),  # second debit ledger
        st.integers(min_value=0, max_value=4),  # credit ledger
        amounts,
        amounts,  # the second debit's amount (the credit is the sum: maybe beyond)
        st.sampled_from(["posted", "pending"]),
        st.sampled_from(["none", "commit", "void", "reverse"]),
    ),
    min_size=1,
    max_size=12,
)
# Ledgers 0..4: 0 is a root, 1 and 2 its children, 3 a child of 1, 4 another root.
PARENTS = (None, 0, 0, 1, None)

_OUT_OF_RANGE = f"""
SELECT count(*) FROM balances WHERE tenant_id = $1 AND (
    debits_posted + debits_pending > {MAX} OR credits_posted + credits_pending > {MAX}
    OR tree_debits_posted + tree_debits_pending > {MAX}
    OR tree_credits_posted + tree_credits_pending > {MAX}
    OR debits_base > {MAX} OR credits_base > {MAX})
"""


async def _tree(services: Services, tenant_id: UUID) -> list[UUID]:
    ids: list[UUID] = []
    for index, parent in enumerate(PARENTS):
        opened = await services.ledgers.open_ledger(
            tenant_id,
            code=f"l{index}",
            name=f"L{index}",
            type="asset",
            parent=LedgerRef.by_id(ids[parent]) if parent is not None else None,
        )
        ids.append(opened.ledger_id)
    return ids


async def _assert_in_range(services: Services, tenant_id: UUID, ids: list[UUID]) -> None:
    assert await services.pool.fetchval(_OUT_OF_RANGE, tenant_id) == 0
    for ledger_id in ids:
        head = await ledger_head(services.pool, tenant_id, ledger_id)
        assert head is not None
        # Raises AmountOverflow on any figure beyond the range.
        await ledger_balances(services.pool, head, dt.date.max, None)


async def _attempt(services: Services, acceptance: Acceptance, call: Any) -> Any:
    """Run one command; a refused one (any LedgerError) must leave the log unchanged."""
    before = await services.store.max_position()
    result = None
    with acceptance.attempt():
        try:
            result = await call
        except LedgerError:
            assert await services.store.max_position() == before
            raise
    return result


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=moves)
async def test_no_sequence_of_postings_leaves_the_int64_range(
    services: Services, acceptance: Acceptance, steps: list[Any]
) -> None:
    slug = f"t{uuid.uuid4().hex[:12]}"
    await services.tenants.create_tenant(slug, "USD")
    tenant_id: UUID = await services.pool.fetchval(
        "SELECT tenant_id FROM tenants WHERE slug = $1", slug
    )
    ids = await _tree(services, tenant_id)
    for first, second, credit, a, b, status, then in steps:
        command = PostJournal(
            tenant_id=tenant_id,
            base_currency="USD",
            date=dt.date(2026, 6, 15),
            status=status,
            entries=(
                EntryInput(ref=LedgerRef.by_id(ids[first]), direction="debit", amount=a),
                EntryInput(ref=LedgerRef.by_id(ids[second]), direction="debit", amount=b),
                EntryInput(ref=LedgerRef.by_id(ids[credit]), direction="credit", amount=a + b),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )
        posted = await _attempt(services, acceptance, services.journals.post(command))
        await _assert_in_range(services, tenant_id, ids)
        if posted is None or then == "none":
            continue
        journal_id = UUID(msgspec.json.decode(posted.document)["id"])
        if then == "reverse":
            call: Any = reverse_journal(
                services.journals, services.pool, tenant_id, journal_id, None, None
            )
        else:
            call = services.journals.change_status(tenant_id, journal_id, then)
        await _attempt(services, acceptance, call)
        await _assert_in_range(services, tenant_id, ids)


async def test_the_guard_is_what_refuses(services: Services) -> None:
    # Negative control for the property above: the refusals it allows are AMOUNT_OVERFLOW
    # (not some other rule), here for a ledger, then its parent's roll-up.
    await services.tenants.create_tenant("acme", "USD")
    tenant_id: UUID = await services.pool.fetchval("SELECT tenant_id FROM tenants")
    ids = await _tree(services, tenant_id)

    def journal(debit: int, credit: int, amount: int) -> PostJournal:
        return PostJournal(
            tenant_id=tenant_id,
            base_currency="USD",
            date=dt.date(2026, 6, 15),
            entries=(
                EntryInput(ref=LedgerRef.by_id(ids[debit]), direction="debit", amount=amount),
                EntryInput(ref=LedgerRef.by_id(ids[credit]), direction="credit", amount=amount),
            ),
            request_sha256=uuid.uuid4().bytes * 2,
        )

    await services.journals.post(journal(3, 4, MAX))
    with pytest.raises(AmountOverflow) as caught:
        await services.journals.post(journal(2, 4, 1))  # l0's roll-up: MAX + 1 debits
    assert caught.value.details["ledger_id"] == str(ids[0])
    with pytest.raises(AmountOverflow):
        await services.journals.post(journal(3, 4, 1))  # l3 itself
