"""The project's own benchmark: ``python -m ledger.bench`` (``make bench``).

Every figure is measured against a baseline in the same run, on the same PostgreSQL, so
ratios hold across machines even when absolute numbers do not.

Layout:

- :mod:`ledger.bench.registry`: a scenario is a named async function that gets a
  :class:`~ledger.bench.registry.BenchContext` (a fresh, migrated database and the run's
  durations) and returns :class:`~ledger.bench.registry.ResultRow` s; the ratios it declares
  are computed from those rows by name.
- :mod:`ledger.bench.measure`: the shared timed loop (warm-up, fixed window, N workers,
  latency percentiles).
- :mod:`ledger.bench.runner`: command line, database setup and teardown, table, JSON.
- Scenario modules (:mod:`ledger.bench.store`, ...), listed in ``runner.SCENARIO_MODULES``.

To add a scenario: write a module with a function decorated by ``@register(...)`` and add the
module to ``SCENARIO_MODULES``.
"""
