-- Audit trail (issue 8): one row per security-relevant event, written in
-- the same transaction as the change it records. Ids are public ids (as
-- in URLs) and serials, so that a row can be read without joins and
-- survives the deletion of nothing: rows are never updated or deleted.
-- No secrets, no private keys.
CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    ca              text NOT NULL,
    event           text NOT NULL,
    account         text,
    order_id        text,
    serial          text,
    identifiers     text,
    detail          text NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_account_idx ON audit_events (account, at);
CREATE INDEX audit_events_serial_idx ON audit_events (serial)
    WHERE serial IS NOT NULL;
