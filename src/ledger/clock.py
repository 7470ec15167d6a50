"""The one place the request path reads the clock (never in folds or event application)."""

from __future__ import annotations

import datetime as dt


def utc_today() -> dt.date:
    """Today's date in UTC: the default ``as_of`` and the day ``scheduled`` is judged by."""
    return dt.datetime.now(dt.UTC).date()
