"""Reconciliation runs against the real database equal the brute-force reference."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from uuid import UUID

import pytest

from ledger.bootstrap import Services
from ledger.commands.reconciliation_runs import RunRequest
from ledger.commands.records import RecordInput
from ledger.domain.reconciliation import Item, Rules, normalize_description
from tests.unit.reconciliation_reference import reference_reconcile

BASE = dt.date(2026, 6, 1)


def sample(rng: random.Random, count: int) -> tuple[list[RecordInput], list[RecordInput]]:
    left, right = [], []
    for i in range(count):
        amount = rng.randint(1, 60) * 50
        day = rng.randint(0, 40)
        text = rng.choice(["payout", "fee", "refund", None])
        left.append(
            RecordInput(
                data_stream_key="bank",
                amount=amount,
                direction="credit" if rng.random() < 0.9 else "debit",
                date=BASE + dt.timedelta(days=day),
                description=text,
                external_id=f"e{i}",
            )
        )
        partner = rng.random() < 0.7
        if partner:
            amount += rng.choice([0, 0, 0, 25, -25])
            day += rng.randint(-4, 4)
        else:
            amount, day = rng.randint(1, 60) * 50, rng.randint(0, 40)
        right.append(
            RecordInput(
                data_stream_key="psp",
                amount=max(amount, 1),
                direction="debit" if rng.random() < 0.9 else "credit",
                date=BASE + dt.timedelta(days=day),
                description=text,
                external_id=f"e{i}" if partner else f"r{i}",
            )
        )
    rng.shuffle(right)
    return left, right


def items(records: list[RecordInput], first_id: int) -> list[Item]:
    return [
        Item(
            seq=first_id + i,
            amount=r.amount,
            direction=r.direction,
            day=r.date.toordinal(),
            external_id=r.external_id,
            description=normalize_description(r.description),
        )
        for i, r in enumerate(records)
    ]


@pytest.mark.parametrize(
    ("match_on", "window", "tolerance", "one_to_many"),
    [
        (("amount", "date"), 3, 0, False),
        (("amount", "date"), 3, 25, True),
        (("amount", "description"), 0, 0, True),
        (("external_id",), 0, 100, False),
    ],
)
async def test_a_run_makes_exactly_the_reference_matches(
    services: Services,
    match_on: tuple[str, ...],
    window: int,
    tolerance: int,
    one_to_many: bool,
) -> None:
    await services.tenants.create_tenant("acme", "USD")
    tenant: UUID = await services.pool.fetchval("SELECT tenant_id FROM tenants")
    left, right = sample(random.Random(hash(match_on) % 1000 + window), 300)
    await services.records.import_records(tenant, left + right)
    expected = reference_reconcile(
        items(left, 1),
        items(right, len(left) + 1),
        Rules(
            match_on=frozenset(match_on),
            date_window_days=window,
            amount_tolerance=tolerance,
            allow_one_to_many=one_to_many,
        ),
    )
    request = RunRequest(
        tenant_id=tenant,
        left="bank",
        right="psp",
        match_on=match_on,
        date_window_days=window,
        amount_tolerance=tolerance,
        allow_one_to_many=one_to_many,
    )
    dry = await services.reconciliation.run(dataclasses.replace(request, dry_run=True))
    outcome = await services.reconciliation.run(request)
    assert outcome.matched == len(expected) > 0
    for made in (dry.matches, outcome.matches):
        got = [
            (
                m.rule.kind if m.rule else None,
                [i.record_id for i in m.items],
                m.rule.amount_difference if m.rule else None,
                m.rule.days_apart if m.rule else None,
            )
            for m in made
        ]
        want = [
            (
                p.kind,
                [i + 1 for i in p.left] + [len(left) + 1 + i for i in p.right],
                p.amount_difference,
                p.days_apart,
            )
            for p in expected
        ]
        assert got == want
    stored = await services.pool.fetchval(
        "SELECT count(*) FROM matches WHERE run_id IS NOT NULL AND status = 'active'"
    )
    assert stored == len(expected)
    used = sum(len(p.left) for p in expected)
    assert outcome.unmatched_left == len(left) - used
