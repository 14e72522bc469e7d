-- Open invocations are exactly those with a next_attempt_at (completing one clears it), so
-- the claim and the next-due queries filter on it alone and this index answers both without
-- visiting the rows that are not due.
DROP INDEX invocations_due;
CREATE INDEX invocations_next_attempt ON invocations (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
