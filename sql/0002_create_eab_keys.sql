-- External Account Binding keys (RFC 8555 section 7.3.4), made by
-- "acme-server-admin eab add". A key belongs to one CA (the nginx location
-- of its acme_server, as accounts.ca) and binds at most one account; a
-- revoked key binds no new account. kid is random base64url, the MAC key
-- 32 random bytes. Rows are never deleted: they are the record of which
-- key let which account in.
CREATE TABLE eab_keys (
    id              bigserial PRIMARY KEY,
    kid             text NOT NULL UNIQUE,
    ca              text NOT NULL DEFAULT '/acme/',
    hmac_key        bytea NOT NULL,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    account_id      bigint REFERENCES accounts (id),
    bound_at        timestamptz,
    CHECK ((account_id IS NULL) = (bound_at IS NULL))
);

CREATE INDEX eab_keys_ca_idx ON eab_keys (ca, id);
CREATE INDEX eab_keys_account_idx ON eab_keys (account_id)
    WHERE account_id IS NOT NULL;
