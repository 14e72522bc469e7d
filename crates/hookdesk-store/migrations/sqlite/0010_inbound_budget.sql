-- Each inbound webhook's call log is kept within a storage budget (--inbound-log-budget): a
-- call's size is kept with it, and summed newest first over this index alone, without reading
-- the calls' bodies. Calls logged before are counted by the length of what they hold.
ALTER TABLE inbound_calls ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE inbound_calls SET stored_bytes = LENGTH(path) + LENGTH(query) + LENGTH(headers) + LENGTH(body)
    + LENGTH(response_body) + LENGTH(actions) + COALESCE(LENGTH(error), 0) + 256;
CREATE INDEX inbound_calls_stored ON inbound_calls (inbound_webhook_id, id, stored_bytes);
