"""What start-up says about a database it cannot open, and how it tells a process is gone."""

from __future__ import annotations

import os
import subprocess

import pytest

from ledger.store.database import redact_url
from ledger.store.embedded import process_alive


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ledger:s3cret@db:5432/ledger", "postgresql://ledger@db:5432/ledger"),
        ("postgres://ledger@db/ledger", "postgres://ledger@db/ledger"),
        (
            "postgresql://db/ledger?password=s3cret&sslmode=require",
            "postgresql://db/ledger?sslmode=require",
        ),
        (
            "postgresql://postgres:@/postgres?host=/tmp/x/pgdata",
            "postgresql://postgres@/postgres?host=/tmp/x/pgdata",
        ),
        ("postgresql://u:p%40ss@[::1]:5433/d", "postgresql://u@[::1]:5433/d"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_process_that_exited_is_gone_even_before_it_is_reaped() -> None:
    child = subprocess.Popen(["true"])
    # Wait for the exit without reaping: the child stays a zombie, which kill(pid, 0) still
    # finds (an embedded server stopped under a PID 1 that never reaps looks like this).
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    try:
        os.kill(child.pid, 0)
        assert not process_alive(child.pid)
    finally:
        child.wait()
    assert not process_alive(child.pid)
    assert process_alive(os.getpid())
