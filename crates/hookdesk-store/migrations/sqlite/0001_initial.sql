-- Times are integer milliseconds since the Unix epoch (UTC), JSON is TEXT and booleans are
-- 0/1 integers: the same SQL then runs unchanged on SQLite and PostgreSQL (through sqlx's Any
-- driver, which decodes neither SQLite booleans nor timestamps). migrations/postgres mirrors
-- this file.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the token, hex: tokens carry 256 random bits, so a plain hash is enough.
    token_hash  TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);

CREATE TABLE tickets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subject       TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    priority      TEXT    NOT NULL,
    type          TEXT,
    tags          TEXT    NOT NULL,
    requester_id  INTEGER NOT NULL REFERENCES users (id),
    assignee_id   INTEGER,
    group_name    TEXT,
    custom_fields TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- One row per tag, for `?tag=` filters; tickets.tags keeps their order for display.
CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag       TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_by_tag ON ticket_tags (tag, ticket_id);
CREATE INDEX tickets_by_status ON tickets (status, id);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id   INTEGER,
    body        TEXT    NOT NULL,
    public      INTEGER NOT NULL CHECK (public IN (0, 1)),
    created_at  INTEGER NOT NULL
);
CREATE INDEX comments_by_ticket ON comments (ticket_id, id);

CREATE TABLE webhooks (
    id                    TEXT    PRIMARY KEY,
    name                  TEXT    NOT NULL,
    description           TEXT    NOT NULL,
    endpoint              TEXT    NOT NULL,
    http_method           TEXT    NOT NULL,
    request_format        TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    subscriptions         TEXT    NOT NULL,
    -- Encrypted JSON of the authentication, secrets included.
    authentication        BLOB    NOT NULL,
    custom_headers        TEXT    NOT NULL,
    max_retries           INTEGER NOT NULL,
    ordering              TEXT    NOT NULL,
    rate_limit_per_minute INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- Signing secrets, encrypted. The current one has expires_at NULL; a rotated-out one keeps
-- signing until expires_at.
CREATE TABLE webhook_secrets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    secret      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX webhook_secrets_by_webhook ON webhook_secrets (webhook_id);

CREATE TABLE triggers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    position    INTEGER NOT NULL,
    conditions  TEXT    NOT NULL,
    actions     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX triggers_by_position ON triggers (position, id);

-- The outbox and the execution log in one: written in the transaction of the update that
-- fired it, claimed by workers with a lease (next_attempt_at moves past the lease), and
-- completed with its outcome. No foreign keys: the log outlives tickets and webhooks.
CREATE TABLE invocations (
    id              TEXT    PRIMARY KEY,
    webhook_id      TEXT    NOT NULL,
    ticket_id       INTEGER,
    trigger_id      INTEGER,
    automation_id   INTEGER,
    event_type      TEXT,
    replay_of       TEXT,
    status          TEXT    NOT NULL,
    request         TEXT    NOT NULL,
    max_retries     INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    error_code      TEXT,
    error_message   TEXT,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER
);
CREATE INDEX invocations_due ON invocations (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX invocations_by_webhook ON invocations (webhook_id, id);
CREATE INDEX invocations_by_ticket ON invocations (ticket_id, id);
CREATE INDEX invocations_by_status ON invocations (status, id);

CREATE TABLE attempts (
    invocation_id TEXT    NOT NULL REFERENCES invocations (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    request       TEXT    NOT NULL,
    response      TEXT,
    error_code    TEXT,
    error_message TEXT,
    PRIMARY KEY (invocation_id, number)
);
