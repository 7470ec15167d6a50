"""Projections: pure folds of events into read tables, and the machinery that runs them.

- Folds: ``tenants``, ``currencies``, ``ledgers``, ``books`` (inline, in the append's
  transaction) and ``trial_balance`` (asynchronous). Catalogue: ``projections/README.md``.
- ``runner``: follows the log and drives asynchronous projections exactly once.
- ``failures``: a failing asynchronous projection, recorded (status, ``/ready``, metrics).
- ``tracking``: the positions read models have reached (read-your-writes), LISTEN/NOTIFY.
- ``rebuild``: rebuilds projections beside the live tables and swaps them in.
- ``replay``: replays the log into projections and compares tables (tests, tools).
"""
