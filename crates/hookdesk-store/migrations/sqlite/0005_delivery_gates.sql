-- Per-ticket ordering is decided when an invocation is queued (its webhook's `ordering`), so
-- changing the option later does not reorder what is already waiting.
ALTER TABLE invocations ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;

-- The claim skips webhooks that are paused (breaker open, rate limit, concurrency cap): with
-- webhook_id in the due index it does so without visiting the rows it skips.
DROP INDEX invocations_next_attempt;
CREATE INDEX invocations_next_attempt ON invocations (next_attempt_at, webhook_id) WHERE next_attempt_at IS NOT NULL;

-- "Is an earlier invocation of this ticket still open for this webhook?", asked by the claim
-- for ordered invocations.
CREATE INDEX invocations_open_ordered ON invocations (webhook_id, ticket_id, id)
    WHERE next_attempt_at IS NOT NULL AND ordered = 1;

-- Each webhook's delivery health as the workers last saw it: the circuit breaker and the
-- failing mark. Written on changes of state only, never per request.
CREATE TABLE webhook_health (
    webhook_id       TEXT   PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    breaker          TEXT   NOT NULL,
    breaker_until    BIGINT,
    failing          INTEGER NOT NULL CHECK (failing IN (0, 1)),
    failing_since    BIGINT,
    last_success_at  BIGINT,
    last_failure_at  BIGINT,
    updated_at       BIGINT NOT NULL
);

-- Bulk replay skips failed invocations that were replayed already.
CREATE INDEX invocations_replays ON invocations (replay_of) WHERE replay_of IS NOT NULL;
