-- CA/B BR 3.2.2.8: CAA is checked within 8 hours before issuance. The
-- validator checks it right after a challenge passes; a finalize that
-- comes later asks for a fresh check, recorded here.
ALTER TABLE authorizations ADD COLUMN caa_checked_at timestamptz;
