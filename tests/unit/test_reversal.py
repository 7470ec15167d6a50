"""What a reversal posts (ledger.commands.journals.mirror_of), without a database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import msgspec

from ledger.commands.journals import ReverseJournal, mirror_of
from ledger.domain.journals import EntryLine, Journal
from ledger.queries.ledgers import LedgerRef

DAY = dt.date(2026, 3, 1)


def posted_journal(tenant_id: uuid.UUID) -> Journal.JournalPosted:
    bank, income = uuid.uuid4(), uuid.uuid4()
    journal = Journal._create(
        Journal.JournalPosted,
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        number=7,
        status="posted",
        date=DAY,
        accrual_date=DAY - dt.timedelta(days=2),
        effective_date=DAY - dt.timedelta(days=2),
        description="sale",
        reference="inv-7",
        external_id="key-7",
        currency="EUR",
        base_currency="USD",
        exchange_rates={"EUR": Decimal("1.0842")},
        entries=(
            EntryLine(
                entry_id=uuid.uuid4(),
                ledger_id=bank,
                ledger_code="bank",
                direction="debit",
                amount=333,
                currency="EUR",
                amount_base=361,
                description="in",
                metadata={"k": 1},
            ),
            EntryLine(
                entry_id=uuid.uuid4(),
                ledger_id=income,
                ledger_code="income",
                direction="credit",
                amount=333,
                currency="EUR",
                amount_base=361,
            ),
        ),
        reversal_of=None,
        warnings=(),
        metadata={},
        request_sha256="00" * 32,
        duplicate_sha256="00" * 32,
        amends=None,
        reporting_currency=None,
        reporting_rates={},
    )
    event = journal.collect_events()[0]
    assert isinstance(event, Journal.JournalPosted)
    return event


def test_the_mirror_reuses_the_originals_rates_and_base_amounts() -> None:
    tenant = uuid.uuid4()
    original = posted_journal(tenant)
    command = ReverseJournal(tenant_id=tenant, journal_id=original.originator_id)
    mirror = mirror_of(command, original)
    assert mirror.journal_id == command.reversal_id
    assert mirror.reversal_of == original.originator_id
    assert (mirror.date, mirror.description) == (original.effective_date, "Reversal of JE-000007")
    assert (mirror.reference, mirror.external_id) == ("inv-7", None)
    assert (mirror.currency, mirror.base_currency) == ("EUR", "USD")
    assert mirror.exchange_rates == {"EUR": Decimal("1.0842")}
    assert [(e.ref, e.direction, e.amount, e.currency, e.amount_base) for e in mirror.entries] == [
        (LedgerRef.by_id(line.ledger_id), other, 333, "EUR", 361)
        for line, other in zip(original.entries, ("credit", "debit"), strict=True)
    ]
    assert (mirror.entries[0].description, mirror.entries[0].metadata) == ("in", {"k": 1})
    assert (mirror.reporting_currency, mirror.reporting_rates) == (None, None)
    assert [e.amount_reporting for e in mirror.entries] == [None, None]


def test_the_mirror_reuses_the_originals_reporting_rates_and_amounts() -> None:
    tenant = uuid.uuid4()
    plain = posted_journal(tenant)
    original = dataclasses.replace(
        plain,
        reporting_currency="JPY",
        reporting_rates={"EUR": Decimal("161.5")},
        entries=tuple(
            msgspec.structs.replace(line, amount_reporting=53780) for line in plain.entries
        ),
    )
    mirror = mirror_of(ReverseJournal(tenant_id=tenant, journal_id=plain.originator_id), original)
    assert (mirror.reporting_currency, mirror.reporting_rates) == ("JPY", {"EUR": Decimal("161.5")})
    assert [e.amount_reporting for e in mirror.entries] == [53780, 53780]


def test_the_date_and_description_given_win() -> None:
    tenant = uuid.uuid4()
    original = posted_journal(tenant)
    command = ReverseJournal(
        tenant_id=tenant, journal_id=original.originator_id, date=DAY, description=""
    )
    mirror = mirror_of(command, original)
    assert (mirror.date, mirror.description) == (DAY, "")


def test_the_fingerprint_is_the_requests_not_the_new_journals() -> None:
    tenant, journal_id = uuid.uuid4(), uuid.uuid4()
    one = ReverseJournal(tenant_id=tenant, journal_id=journal_id, date=DAY)
    again = ReverseJournal(tenant_id=tenant, journal_id=journal_id, date=DAY)
    assert one.reversal_id != again.reversal_id
    assert one.fingerprint() == again.fingerprint()
    assert len(one.fingerprint()) == 32
    other = ReverseJournal(tenant_id=tenant, journal_id=journal_id, description="x")
    assert other.fingerprint() != one.fingerprint()
