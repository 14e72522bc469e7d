-- What the overview and the lists show beside each object (0011 is left to the password
-- sign-in work).
--
-- An API token's last use, written at most about once a minute per token so that
-- authenticating stays one indexed read.
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;

-- Rule firings counted per rule and UTC day, in the transaction of the update they fired on:
-- "fired in the last 7 days" sums at most 7 rows a rule, however many updates there were.
-- No foreign key, as for the log: ids are never reused, and a deleted rule's rows are a few.
CREATE TABLE rule_firings (
    kind          TEXT    NOT NULL,
    rule_id       INTEGER NOT NULL,
    day           INTEGER NOT NULL,
    fired         INTEGER NOT NULL,
    last_fired_at INTEGER NOT NULL,
    CONSTRAINT rule_firings_key PRIMARY KEY (kind, rule_id, day)
);

-- Each webhook's deliveries over a day (its success rate) read from the index alone; it also
-- answers the hourly counts and the retention purge the index it replaces answered.
CREATE INDEX invocations_completed_webhook ON invocations (completed_at, status, webhook_id) WHERE completed_at IS NOT NULL;
DROP INDEX invocations_completed_status;
