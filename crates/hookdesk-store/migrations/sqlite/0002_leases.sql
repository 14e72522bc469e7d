-- Leases for singleton background work (retention purge, the automation scheduler): one
-- row per job; the holder renews it, another node takes it once it has expired.
CREATE TABLE leases (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX invocations_completed ON invocations (completed_at) WHERE completed_at IS NOT NULL;
