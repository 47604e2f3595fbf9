-- schema_migrations records which of these files have been applied.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version         text PRIMARY KEY,
    applied_at      timestamptz NOT NULL DEFAULT now()
);

-- RFC 8555 core objects: accounts, orders, authorizations, challenges,
-- certificates. Public ids (in URLs) are random base64url strings made by
-- the server, never the sequential keys. Status columns take only the
-- values of RFC 8555 section 7.1.6.

CREATE TABLE accounts (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    ca              text NOT NULL,
    jwk_thumbprint  text NOT NULL,
    jwk             text NOT NULL,
    status          text NOT NULL DEFAULT 'valid'
                    CHECK (status IN ('valid', 'deactivated', 'revoked')),
    contact         text NOT NULL DEFAULT '[]',
    tos_agreed      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ca, jwk_thumbprint)
);

CREATE TABLE orders (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'ready', 'processing',
                                      'valid', 'invalid')),
    expires         timestamptz NOT NULL,
    not_before      timestamptz,
    not_after       timestamptz,
    identifiers     text NOT NULL,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX orders_account_idx ON orders (account_id, id);
CREATE INDEX orders_processing_idx ON orders (updated_at)
    WHERE status = 'processing';

CREATE TABLE authorizations (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    identifier_type text NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
    identifier_value text NOT NULL,
    wildcard        boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'valid', 'invalid',
                                      'deactivated', 'expired', 'revoked')),
    expires         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX authorizations_account_idx
    ON authorizations (account_id, identifier_type, identifier_value);

CREATE TABLE challenges (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    authorization_id bigint NOT NULL REFERENCES authorizations (id),
    type            text NOT NULL,
    token           text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'valid',
                                      'invalid')),
    validated       timestamptz,
    error           text,
    validation_record text,
    attempts        integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (authorization_id, type)
);

CREATE INDEX challenges_processing_idx ON challenges (updated_at)
    WHERE status = 'processing';

CREATE TABLE order_authorizations (
    order_id        bigint NOT NULL REFERENCES orders (id),
    authorization_id bigint NOT NULL REFERENCES authorizations (id),
    PRIMARY KEY (order_id, authorization_id)
);

CREATE INDEX order_authorizations_authz_idx
    ON order_authorizations (authorization_id);

-- A row is reserved (der IS NULL) before the serial is ever signed, so no
-- serial exists outside this table; one certificate per order at most.
CREATE TABLE certificates (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,
    serial          text NOT NULL UNIQUE,
    order_id        bigint NOT NULL UNIQUE REFERENCES orders (id),
    account_id      bigint NOT NULL REFERENCES accounts (id),
    der             bytea,
    chain           text,
    not_before      timestamptz,
    not_after       timestamptz,
    revoked_at      timestamptz,
    revocation_reason integer,
    created_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE orders ADD COLUMN certificate_id bigint
    REFERENCES certificates (id);
