-- Rule firings counted in shards: on PostgreSQL every update that fires a rule incremented
-- the same row, so concurrent updates queued on its lock until each committed (7,146 of the
-- upserts took over 20 ms in one bench run). Each update now counts into one of 32 shards;
-- reads sum them. SQLite has one writer anyway and keeps counting into shard 0.
CREATE TABLE rule_firings_sharded (
    kind          TEXT    NOT NULL,
    rule_id       INTEGER NOT NULL,
    day           INTEGER NOT NULL,
    shard         INTEGER NOT NULL,
    fired         INTEGER NOT NULL,
    last_fired_at INTEGER NOT NULL,
    CONSTRAINT rule_firings_key PRIMARY KEY (kind, rule_id, day, shard)
);
INSERT INTO rule_firings_sharded (kind, rule_id, day, shard, fired, last_fired_at)
    SELECT kind, rule_id, day, 0, fired, last_fired_at FROM rule_firings;
DROP TABLE rule_firings;
ALTER TABLE rule_firings_sharded RENAME TO rule_firings;
