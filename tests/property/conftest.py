"""Fixtures for the property tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import pytest

from ledger.errors import LedgerError

# Below this share of accepted commands, a run mostly tested refusals: its invariants held
# on books that barely moved. Each test's generators accept well over half on average.
ACCEPTED_SHARE_MIN = 0.25


class Acceptance:
    """The commands a property test submitted, over all of its examples, and how many were
    accepted. Refusals (``LedgerError``) are part of any random sequence; any other error
    is a bug and propagates."""

    def __init__(self) -> None:
        self.submitted = 0
        self.accepted = 0

    @contextlib.contextmanager
    def attempt(self) -> Iterator[None]:
        """Count one command: accepted if the block completes, refused (and swallowed) if it
        raises a ``LedgerError``."""
        self.submitted += 1
        try:
            yield
        except LedgerError:
            return
        self.accepted += 1

    def count(self, outcomes: Iterable[object]) -> None:
        """Count commands whose outcomes were gathered: each is a result or the error the
        command raised; an error that is not a ``LedgerError`` is raised here."""
        for outcome in outcomes:
            self.submitted += 1
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, LedgerError):
                    raise outcome
            else:
                self.accepted += 1


@pytest.fixture
def acceptance() -> Iterator[Acceptance]:
    """One tally for a whole hypothesis run (function-scoped fixtures are shared by its
    examples); the test fails unless a fair share of its commands was accepted, so a test
    whose commands are all refused cannot pass by checking nothing."""
    tally = Acceptance()
    yield tally
    assert tally.accepted > 0, "no command was accepted"
    assert tally.accepted >= ACCEPTED_SHARE_MIN * tally.submitted, (
        f"only {tally.accepted} of {tally.submitted} commands were accepted"
    )
