"""The event store: one append-only PostgreSQL log, written through asyncpg."""
