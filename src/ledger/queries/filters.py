"""``SqlFilter``: a dynamic WHERE clause and its positional parameters, built together.

The list reads filter on whichever query parameters a request gives. ``SqlFilter`` keeps
the clauses and the values they bind side by side, so the ``$n`` placeholders always match
the argument list handed to the driver.

Safety contract:

* Values are ALWAYS bound as parameters (``$n``), never formatted into the SQL text.
* Clause templates and column names are code literals (typed ``LiteralString``), never
  request data: they are pasted into the SQL as they are.
"""

from __future__ import annotations

from typing import LiteralString


class SqlFilter:
    """The AND-ed WHERE clauses of one statement and the positional parameters they bind.

    ``SqlFilter(*fixed)`` binds ``fixed`` as ``$1`` .. ``$n`` first: the parameters the rest
    of the statement names by number (tenant, position known at, cursor key). Every later
    value is numbered after them, in the order it is bound::

        f = SqlFilter(tenant_id, after)  # $1, $2
        f.where("t.tenant_id = $1 AND t.position > $2")
        f.equals("t.code", code)  # "t.code = $3" when code is given
        sql = f"SELECT ... WHERE {f.sql} LIMIT {f.bind(limit)}"
        rows = await source.fetch(sql, *f.params)
    """

    __slots__ = ("_clauses", "_params")

    def __init__(self, *fixed: object) -> None:
        self._params: list[object] = list(fixed)
        self._clauses: list[str] = []

    def bind(self, value: object) -> str:
        """Bind ``value`` as the next positional parameter and name its placeholder (``$n``)."""
        self._params.append(value)
        return f"${len(self._params)}"

    def where(self, template: LiteralString, *values: object) -> None:
        """Require ``template``, each ``{}`` in it the placeholder of the next of ``values``.

        ``template`` is a code literal; a literal brace in it is written ``{{`` / ``}}``.
        """
        self._clauses.append(template.format(*(self.bind(v) for v in values)))

    def where_given(self, template: LiteralString, value: object | None) -> None:
        """``where(template, value)``, or nothing when ``value`` is None (filter not given)."""
        if value is not None:
            self.where(template, value)

    def equals(self, column: LiteralString, value: object | None) -> None:
        """Require ``column = value``, unless ``value`` is None."""
        self.where_given(column + " = {}", value)

    def at_least(self, column: LiteralString, value: object | None) -> None:
        """Require ``column >= value``, unless ``value`` is None."""
        self.where_given(column + " >= {}", value)

    def at_most(self, column: LiteralString, value: object | None) -> None:
        """Require ``column <= value``, unless ``value`` is None."""
        self.where_given(column + " <= {}", value)

    @property
    def sql(self) -> str:
        """The clauses joined by AND, in the order added (``TRUE`` when there is none)."""
        return " AND ".join(self._clauses) if self._clauses else "TRUE"

    @property
    def params(self) -> tuple[object, ...]:
        """Every bound value, ``$1`` first: the statement's positional arguments."""
        return tuple(self._params)
