-- The retention purge deletes audit entries by age, a batch at a time: this index finds the
-- oldest at once, where a scan of the whole table would hold SQLite's writer for as long.
CREATE INDEX ticket_audits_created ON ticket_audits (created_at);
