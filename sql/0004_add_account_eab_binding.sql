-- RFC 8555 7.3.4: a CA that verified an account's External Account
-- Binding reflects the binding in the account object; the JWS the client
-- sent is kept as it came (it holds a MAC, no key).
ALTER TABLE accounts ADD COLUMN eab_binding text;
