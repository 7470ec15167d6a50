"""Seed-compatible endpoints (docs/api.md, "Seed-compatible endpoints"): one module per seed.

Each module is a TRANSLATION onto the native commands: it parses its seed's request shape,
builds the native command(s) (e.g. ``ledger.commands.journals.PostJournal``), and renders its
seed's response shape from the native result and read queries. It writes no SQL and appends
no events itself; every rule that needs state is decided by the native command handlers.
"""
