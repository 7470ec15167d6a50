"""Settings are read once from the environment and a bad value names its variable."""

from __future__ import annotations

import pytest

from ledger import limits
from ledger.config import ConfigError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.uses_embedded_database
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", 8000, "INFO")
    assert settings.data_dir.name == ".ledger"


def test_values_are_read() -> None:
    settings = load_settings(
        {
            "LEDGER_DATABASE_URL": "postgresql://u@h:5432/db",
            "LEDGER_HOST": "0.0.0.0",
            "LEDGER_PORT": "9000",
            "LEDGER_DATA_DIR": "/tmp/x",
            "LEDGER_LOG_LEVEL": "debug",
        }
    )
    assert settings.database_url == "postgresql://u@h:5432/db"
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9000, "DEBUG")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEDGER_PORT", "http"),
        ("LEDGER_PORT", "0"),
        ("LEDGER_PORT", "70000"),
        ("LEDGER_LOG_LEVEL", "LOUD"),
        ("LEDGER_DATABASE_URL", "mysql://x"),
        ("LEDGER_HOST", "  "),
        ("LEDGER_STATEMENT_TIMEOUT_SECONDS", "soon"),
        ("LEDGER_STATEMENT_TIMEOUT_SECONDS", "0"),
        ("LEDGER_STATEMENT_TIMEOUT_SECONDS", "-1"),
        ("LEDGER_STATEMENT_TIMEOUT_SECONDS", "nan"),
        ("LEDGER_STATEMENT_TIMEOUT_SECONDS", "inf"),
        ("LEDGER_STATEMENT_TIMEOUT_SECONDS", str(limits.STATEMENT_TIMEOUT_SECONDS_MAX + 1)),
        ("LEDGER_DATABASE_CONNECT_TIMEOUT", "soon"),
        ("LEDGER_DATABASE_CONNECT_TIMEOUT", "-1"),
        ("LEDGER_DATABASE_CONNECT_TIMEOUT", "nan"),
        ("LEDGER_DATABASE_CONNECT_TIMEOUT", "inf"),
        ("LEDGER_DATABASE_CONNECT_TIMEOUT", "3601"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})


def test_the_statement_timeout_is_a_setting() -> None:
    assert load_settings({}).statement_timeout_seconds == limits.STATEMENT_TIMEOUT_SECONDS_DEFAULT
    settings = load_settings({"LEDGER_STATEMENT_TIMEOUT_SECONDS": "2.5"})
    assert settings.statement_timeout_seconds == 2.5


def test_the_database_connect_timeout_is_named_and_configurable() -> None:
    default = load_settings({}).database_connect_timeout
    assert default == limits.DATABASE_CONNECT_TIMEOUT_DEFAULT_SECONDS
    assert load_settings({"LEDGER_DATABASE_CONNECT_TIMEOUT": "2.5"}).database_connect_timeout == 2.5
    assert load_settings({"LEDGER_DATABASE_CONNECT_TIMEOUT": "0"}).database_connect_timeout == 0


def test_rate_limits_are_read_and_zero_turns_them_off() -> None:
    default = load_settings({})
    assert default.rate_limit_per_second > 0
    assert default.rate_limit_burst >= 1
    settings = load_settings(
        {"LEDGER_RATE_LIMIT_PER_SECOND": "50", "LEDGER_RATE_LIMIT_BURST": "100"}
    )
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (50, 100)
    assert load_settings({"LEDGER_RATE_LIMIT_PER_SECOND": "0"}).rate_limit_per_second == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEDGER_RATE_LIMIT_PER_SECOND", "-1"),
        ("LEDGER_RATE_LIMIT_PER_SECOND", "1.5"),
        ("LEDGER_RATE_LIMIT_PER_SECOND", "1e3"),
        ("LEDGER_RATE_LIMIT_PER_SECOND", "99999999"),
        ("LEDGER_RATE_LIMIT_BURST", "0"),
        ("LEDGER_RATE_LIMIT_BURST", "many"),
    ],
)
def test_a_bad_rate_limit_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: value})
