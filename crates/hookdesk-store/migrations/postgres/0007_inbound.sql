-- Inbound webhooks: a secret URL that outside systems call, and what a call does and answers.
-- The URL's token is found by its SHA-256 (token_hash); the token itself is sealed by the
-- cipher, like every secret, so that admins can read the URL again.
CREATE TABLE inbound_webhooks (
    id                    TEXT    PRIMARY KEY,
    name                  TEXT    NOT NULL,
    enabled               BIGINT  NOT NULL CHECK (enabled IN (0, 1)),
    token_hash            TEXT    NOT NULL UNIQUE,
    token                 BYTEA   NOT NULL,
    idempotency_header    TEXT,
    verify                BYTEA,
    actions               TEXT    NOT NULL,
    response              TEXT    NOT NULL,
    rate_limit_per_minute BIGINT,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);

-- The log of calls, newest first by id (UUIDv7); purged with the invocations' retention.
CREATE TABLE inbound_calls (
    id                 TEXT    PRIMARY KEY,
    inbound_webhook_id TEXT    NOT NULL REFERENCES inbound_webhooks (id) ON DELETE CASCADE,
    created_at         BIGINT  NOT NULL,
    method             TEXT    NOT NULL,
    path               TEXT    NOT NULL,
    query              TEXT    NOT NULL,
    headers            TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    body_bytes         BIGINT  NOT NULL,
    client_ip          TEXT,
    status             BIGINT  NOT NULL,
    response_body      TEXT    NOT NULL,
    actions            TEXT    NOT NULL,
    error              TEXT,
    idempotency_key    TEXT,
    replay_of          TEXT,
    duration_ms        BIGINT  NOT NULL
);
CREATE INDEX inbound_calls_by_webhook ON inbound_calls (inbound_webhook_id, id);
CREATE INDEX inbound_calls_by_time ON inbound_calls (created_at);
CREATE INDEX inbound_calls_by_key ON inbound_calls (inbound_webhook_id, idempotency_key);

-- The idempotency keys of calls whose actions ran, claimed in the actions' transaction: a
-- second call with the same key cannot run them again, even at the same moment.
CREATE TABLE inbound_keys (
    inbound_webhook_id TEXT    NOT NULL REFERENCES inbound_webhooks (id) ON DELETE CASCADE,
    idempotency_key    TEXT    NOT NULL,
    call_id            TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    PRIMARY KEY (inbound_webhook_id, idempotency_key)
);
CREATE INDEX inbound_keys_by_time ON inbound_keys (created_at);
