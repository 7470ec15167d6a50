"""SqlFilter: placeholder numbering, skipped filters, fixed leading parameters (no database)."""

from __future__ import annotations

import datetime as dt

from ledger.queries.filters import SqlFilter


def test_numbering_follows_binding_order() -> None:
    query = SqlFilter()
    query.equals("code", "A")
    query.at_least("date", dt.date(2026, 1, 1))
    query.at_most("date", dt.date(2026, 12, 31))
    assert query.sql == "code = $1 AND date >= $2 AND date <= $3"
    assert query.params == ("A", dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_none_skips_the_filter_and_binds_nothing() -> None:
    query = SqlFilter()
    query.equals("code", None)
    query.at_least("date", None)
    query.at_most("date", None)
    query.where_given("EXISTS (SELECT 1 FROM t WHERE t.id = {})", None)
    query.equals("type", "asset")
    assert query.sql == "type = $1"
    assert query.params == ("asset",)


def test_falsy_values_are_filters_too() -> None:
    query = SqlFilter()
    query.equals("n", 0)
    query.equals("s", "")
    query.equals("b", False)
    assert query.sql == "n = $1 AND s = $2 AND b = $3"
    assert query.params == (0, "", False)


def test_numbering_starts_after_the_fixed_parameters() -> None:
    query = SqlFilter("tenant", 42)
    query.where("t.tenant_id = $1 AND t.position > $2")
    query.equals("t.code", "A")
    assert query.sql == "t.tenant_id = $1 AND t.position > $2 AND t.code = $3"
    assert query.bind(11) == "$4"
    assert query.params == ("tenant", 42, "A", 11)


def test_where_binds_each_placeholder_in_order() -> None:
    query = SqlFilter("tenant")
    query.where("(t.a, t.b) > ({}, {})", 1, "x")
    query.where("t.c IS NULL")
    assert query.sql == "(t.a, t.b) > ($2, $3) AND t.c IS NULL"
    assert query.params == ("tenant", 1, "x")


def test_values_are_never_formatted_into_the_sql() -> None:
    hostile = "x'; DROP TABLE ledgers; --"
    query = SqlFilter()
    query.equals("code", hostile)
    query.where_given("name = {}", "{0}")
    assert query.sql == "code = $1 AND name = $2"
    assert query.params == (hostile, "{0}")


def test_no_clause_is_true() -> None:
    assert SqlFilter("tenant").sql == "TRUE"
