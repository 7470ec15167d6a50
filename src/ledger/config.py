"""Settings from the environment, read and validated once at start-up.

Every variable is optional. A bad value stops start-up with a message that names the variable,
the value and what was expected, so an operator never debugs a half-started service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger import limits

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message is for the operator."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The service's configuration. Build it with :func:`load_settings`."""

    database_url: str | None
    host: str
    port: int
    data_dir: Path
    log_level: str
    # The server cancels a statement after this long (``LEDGER_STATEMENT_TIMEOUT_SECONDS``);
    # the request answers 503 ``UNAVAILABLE`` and nothing of it is written.
    statement_timeout_seconds: float = limits.STATEMENT_TIMEOUT_SECONDS_DEFAULT
    # How long start-up retries an unreachable database (LEDGER_DATABASE_CONNECT_TIMEOUT).
    database_connect_timeout: float = limits.DATABASE_CONNECT_TIMEOUT_DEFAULT_SECONDS
    # Requests per second and burst per API key, per process (``domain.rate_limits``);
    # a rate of 0 turns rate limiting off.
    rate_limit_per_second: int = limits.RATE_LIMIT_PER_SECOND_DEFAULT
    rate_limit_burst: int = limits.RATE_LIMIT_BURST_DEFAULT

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``LEDGER_*`` variables from ``environ`` (default: ``os.environ``).

    Raises:
        ConfigError: a variable has a value that cannot be used.
    """
    env = os.environ if environ is None else environ

    url = env.get("LEDGER_DATABASE_URL", "").strip() or None
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"LEDGER_DATABASE_URL must be a postgresql:// URL, got {url!r}")

    host = env.get("LEDGER_HOST", "127.0.0.1").strip()
    if not host:
        raise ConfigError("LEDGER_HOST must not be empty")

    port_text = env.get("LEDGER_PORT", "8000").strip()
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"LEDGER_PORT must be an integer, got {port_text!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"LEDGER_PORT must be between 1 and 65535, got {port}")

    data_dir = Path(env.get("LEDGER_DATA_DIR", ".ledger").strip() or ".ledger").absolute()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"LEDGER_DATA_DIR must be a directory, got the file {data_dir}")

    level = env.get("LEDGER_LOG_LEVEL", "INFO").strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LEDGER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")

    return Settings(
        database_url=url,
        host=host,
        port=port,
        data_dir=data_dir,
        log_level=level,
        statement_timeout_seconds=_statement_timeout(env),
        database_connect_timeout=_connect_timeout(env),
        rate_limit_per_second=_bounded_int(
            env,
            "LEDGER_RATE_LIMIT_PER_SECOND",
            limits.RATE_LIMIT_PER_SECOND_DEFAULT,
            0,
            limits.RATE_LIMIT_PER_SECOND_MAX,
        ),
        rate_limit_burst=_bounded_int(
            env,
            "LEDGER_RATE_LIMIT_BURST",
            limits.RATE_LIMIT_BURST_DEFAULT,
            1,
            limits.RATE_LIMIT_BURST_MAX,
        ),
    )


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    """The number of seconds in variable ``name``, None when it is unset or blank."""
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}") from None


def _statement_timeout(env: Mapping[str, str]) -> float:
    name = "LEDGER_STATEMENT_TIMEOUT_SECONDS"
    seconds = _seconds(env, name)
    if seconds is None:
        return limits.STATEMENT_TIMEOUT_SECONDS_DEFAULT
    # (NaN fails both comparisons; below a millisecond PostgreSQL would round to "none".)
    if not 0.001 <= seconds <= limits.STATEMENT_TIMEOUT_SECONDS_MAX:
        raise ConfigError(
            f"{name} must be between 0.001 and {limits.STATEMENT_TIMEOUT_SECONDS_MAX:g}"
            f" (the client's own bound on a statement), got {env[name].strip()!r}"
        )
    return seconds


def _connect_timeout(env: Mapping[str, str]) -> float:
    name = "LEDGER_DATABASE_CONNECT_TIMEOUT"
    seconds = _seconds(env, name)
    if seconds is None:
        return limits.DATABASE_CONNECT_TIMEOUT_DEFAULT_SECONDS
    top = limits.DATABASE_CONNECT_TIMEOUT_MAX_SECONDS
    if not 0 <= seconds <= top:  # also refuses nan and inf
        shown = env[name].strip()
        raise ConfigError(f"{name} must be between 0 and {top:g} seconds, got {shown!r}")
    return seconds


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """The decimal integer in ``name`` (``default`` when unset or blank), within low..high.

    Raises:
        ConfigError: not a decimal integer, or out of range.
    """
    text = env.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):
        raise ConfigError(f"{name} must be a whole number, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value
