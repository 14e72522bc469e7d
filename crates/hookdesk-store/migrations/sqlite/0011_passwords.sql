-- People sign in to the UI with an email and a password (argon2id, stored as a PHC string),
-- set through a one-time link (an invitation or a reset) or `hookdesk user set-password`.

CREATE TABLE user_passwords (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phc        TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- At most one link per user: a new one replaces the earlier. Only the link's SHA-256 is kept;
-- using it deletes the row, so it works once.
CREATE TABLE password_links (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL CONSTRAINT password_links_token_hash_key UNIQUE,
    kind       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Failed password sign-ins in a row, by the email typed (whether or not a user has it, so
-- that a lockout says nothing of which emails exist), and the lockout they led to.
CREATE TABLE sign_in_failures (
    email        TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    lockouts     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- A session now belongs to a user, and to an API token only when it was opened with one
-- (revoking the token still ends it). SQLite cannot drop a NOT NULL: the table is rebuilt.
CREATE TABLE ui_sessions_rebuilt (
    id_hash    TEXT    PRIMARY KEY,
    token_id   INTEGER REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO ui_sessions_rebuilt (id_hash, token_id, csrf_token, created_at, expires_at, user_id)
    SELECT s.id_hash, s.token_id, s.csrf_token, s.created_at, s.expires_at, t.user_id
    FROM ui_sessions s JOIN api_tokens t ON t.id = s.token_id;
DROP TABLE ui_sessions;
ALTER TABLE ui_sessions_rebuilt RENAME TO ui_sessions;
CREATE INDEX ui_sessions_expires_idx ON ui_sessions (expires_at);
CREATE INDEX ui_sessions_user_idx ON ui_sessions (user_id);
