-- People sign in to the UI with an email and a password (argon2id, stored as a PHC string),
-- set through a one-time link (an invitation or a reset) or `hookdesk user set-password`.

CREATE TABLE user_passwords (
    user_id    BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phc        TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- At most one link per user: a new one replaces the earlier. Only the link's SHA-256 is kept;
-- using it deletes the row, so it works once.
CREATE TABLE password_links (
    user_id    BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL CONSTRAINT password_links_token_hash_key UNIQUE,
    kind       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);

-- Failed password sign-ins in a row, by the email typed (whether or not a user has it, so
-- that a lockout says nothing of which emails exist), and the lockout they led to.
CREATE TABLE sign_in_failures (
    email        TEXT    PRIMARY KEY,
    failures     BIGINT  NOT NULL,
    lockouts     BIGINT  NOT NULL,
    locked_until BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

-- A session now belongs to a user, and to an API token only when it was opened with one
-- (revoking the token still ends it).
ALTER TABLE ui_sessions ALTER COLUMN token_id DROP NOT NULL;
ALTER TABLE ui_sessions ADD COLUMN user_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
UPDATE ui_sessions s SET user_id = t.user_id FROM api_tokens t WHERE t.id = s.token_id;
ALTER TABLE ui_sessions ALTER COLUMN user_id SET NOT NULL;
CREATE INDEX ui_sessions_user_idx ON ui_sessions (user_id);
