-- Automations' hours_since_status_changed needs to know when the status last changed;
-- tickets written before this knew only their last update.
ALTER TABLE tickets ADD COLUMN status_changed_at BIGINT;
UPDATE tickets SET status_changed_at = updated_at;

-- Automations have the shape of triggers; they run on a schedule instead of on updates.
CREATE TABLE automations (
    id          BIGSERIAL PRIMARY KEY,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    active      BIGINT NOT NULL CHECK (active IN (0, 1)),
    position    BIGINT NOT NULL,
    conditions  TEXT    NOT NULL,
    actions     TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX automations_by_position ON automations (position, id);

-- Macros: actions an agent applies to one ticket on demand.
CREATE TABLE macros (
    id          BIGSERIAL PRIMARY KEY,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    active      BIGINT NOT NULL CHECK (active IN (0, 1)),
    actions     TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- One row per ticket update: who or what made it, what changed, which rules fired and which
-- invocations they queued. Answers "why did this webhook fire?".
CREATE TABLE ticket_audits (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    actor_id    BIGINT,
    via         TEXT    NOT NULL,
    changes     TEXT    NOT NULL,
    rules       TEXT    NOT NULL,
    events      TEXT    NOT NULL,
    invocations TEXT    NOT NULL,
    bound_hit   BIGINT NOT NULL CHECK (bound_hit IN (0, 1)),
    created_at  BIGINT NOT NULL
);
CREATE INDEX ticket_audits_by_ticket ON ticket_audits (ticket_id, id);
