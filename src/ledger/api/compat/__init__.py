"""Seed-compatible endpoints (docs/api.md, "Seed-compatible endpoints").

Each module serves one seed API's shape, and is a translation onto the native commands,
never a second implementation: it parses the seed's request (strict msgspec Structs), builds
the native command(s) (e.g. ``PostJournal`` through ``services.journals``), and renders the
seed's answer from the native result, documents and ``ledger.queries`` reads. It writes no
SQL and appends no events itself; errors are the native envelope with the native codes.
"""
