-- A counter bumped in the same transaction as every change to triggers, so each node can
-- keep its parsed triggers cached and reload them only when this moves.
CREATE TABLE rules_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO rules_version (id, version) VALUES (1, 0);
