-- Journal annotations (PATCH /v1/journals/{id}, Journal.JournalAnnotated; docs/api.md §5).
-- The books projection (ledger/projections/books.py) keeps a journal's current notes in its
-- row: description and reference were columns already; metadata is new. It is NULL until
-- the journal's first annotation that changes it, and the metadata as posted (in the
-- journal's JournalPosted event) stands until then, so existing rows need no backfill and
-- a posting writes nothing more.
ALTER TABLE journals ADD COLUMN IF NOT EXISTS metadata jsonb;
