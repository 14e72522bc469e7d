-- Sign-ins to the admin UI. The cookie carries a random 256-bit id; the database keeps only its
-- SHA-256 (id_hash), so a copy of the database signs no one in. A session acts as the API
-- token it was opened with: revoking the token, or demoting its user, ends the session.
CREATE TABLE ui_sessions (
    id_hash    TEXT    PRIMARY KEY,
    token_id   BIGINT  NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    -- The per-session CSRF token every state-changing request must carry.
    csrf_token TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);

CREATE INDEX ui_sessions_expires_idx ON ui_sessions (expires_at);
