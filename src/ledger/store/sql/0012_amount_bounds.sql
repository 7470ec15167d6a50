-- Totals stay int64 (issue 12; docs/api.md §1 Money, 422 AMOUNT_OVERFLOW). The decisions
-- check this before anything is written (ledger.domain.balances: while each side's posted
-- plus pending total is at most 2^63-1, every balance, own and including children, is an
-- int64); this check is the database's own guard behind them, for writes that pass the
-- decision's check concurrently in two server processes, and for a ledger's base totals
-- (the trial balance's lines), which only it checks per ledger. A violation aborts the
-- append's transaction and answers 422 AMOUNT_OVERFLOW (ledger/store/overflow.py).
ALTER TABLE balances
    ADD CONSTRAINT balances_sides_int64 CHECK (
        debits_posted + debits_pending <= 9223372036854775807
        AND credits_posted + credits_pending <= 9223372036854775807
        AND tree_debits_posted + tree_debits_pending <= 9223372036854775807
        AND tree_credits_posted + tree_credits_pending <= 9223372036854775807
        AND debits_base <= 9223372036854775807
        AND credits_base <= 9223372036854775807
    ) NOT VALID;
-- Validated when every existing row is in range (always, for books written by this code).
-- Rows written before the guard that are beyond it keep it NOT VALID, so the migration still
-- applies; every row written from now on is checked either way, and a read of such a row
-- answers 422 AMOUNT_OVERFLOW.
DO $$
BEGIN
    ALTER TABLE balances VALIDATE CONSTRAINT balances_sides_int64;
EXCEPTION WHEN check_violation THEN
    RAISE NOTICE 'balances_sides_int64 left NOT VALID: rows beyond the int64 range exist';
END $$;
