-- Amendment lineage on the journals read table (issue 11; docs/api.md §5, "Amend a journal").
-- An amendment is one decision: the amended journal's reversal (reversal_of, JournalReversed)
-- and a new journal whose JournalPosted names the amended one (amends, class_version 2).
-- The books projection writes both directions here: amends on the new journal's row,
-- amended_by on the amended journal's row (a GET of either shows the lineage).
ALTER TABLE journals ADD COLUMN IF NOT EXISTS amends uuid;
ALTER TABLE journals ADD COLUMN IF NOT EXISTS amended_by uuid;

-- Called by BooksBatch after ledger_books_apply (or a bulk load's COPY) for the journals of
-- the batch that amend another: p_ids[i] amends p_amends[i]. Both rows exist by then (the
-- amended journal was posted at an earlier position, in this batch or before it).
CREATE OR REPLACE FUNCTION ledger_books_lineage(p_ids uuid[], p_amends uuid[]) RETURNS void
LANGUAGE sql
AS $fn$
    UPDATE journals j SET amends = a.amends
    FROM unnest(p_ids, p_amends) AS a(id, amends) WHERE j.journal_id = a.id;
    UPDATE journals j SET amended_by = a.id
    FROM unnest(p_ids, p_amends) AS a(id, amends) WHERE j.journal_id = a.amends;
$fn$;
