#!/bin/bash
# t/interop/certbot.sh: certbot (Debian 2.1) against a running stack, http-01
# with certbot's standalone server on 127.0.0.1:$HTTP01PORT: certonly,
# renew --force-renewal, and revoke when the directory has revokeCert (the
# database must then show the certificate revoked).
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init certbot

# 1. single name over http-01
if stk_certbot "$work/cb1" one www.example.test; then
    ok "certbot certonly -d www.example.test"
else
    nok "certbot certonly -d www.example.test"
    stk_certbot_failed "$work/cb1"
    itp_logs 30
    done_
fi

live="$work/cb1/config/live/one"
cert="$live/cert.pem"
itp_check_cert "certbot" "$cert" "$live/fullchain.pem" www.example.test

# 2. renewal with the same account: a second order for the same name
serial1=$(itp_serial "$cert")
serial2=
if env REQUESTS_CA_BUNDLE="$ACME_TLS_CA_BUNDLE" timeout 120 certbot renew \
       --non-interactive --no-random-sleep-on-renew --force-renewal \
       --cert-name one \
       --config-dir "$work/cb1/config" --work-dir "$work/cb1/work" \
       --logs-dir "$work/cb1/logs" > "$work/renew.out" 2>&1 \
   && openssl verify -CAfile "$ACME_CA_CERT" -untrusted "$live/chain.pem" \
       "$live/cert.pem" > /dev/null \
   && [ "$(itp_serial "$live/cert.pem")" != "$serial1" ]
then
    ok "certbot renew --force-renewal"
    serial2=$(itp_serial "$live/cert.pem")
else
    nok "certbot renew --force-renewal"
    stk_tail "$work/renew.out" 30
fi

# 3. revocation by the account that owns the certificate
if ! itp_dir_has revokeCert; then
    nok "the directory has revokeCert"
elif [ -z "$serial2" ]; then
    nok "certbot revoke (no renewed certificate to revoke)"
else
    if env REQUESTS_CA_BUNDLE="$ACME_TLS_CA_BUNDLE" timeout 120 certbot \
           revoke --non-interactive --no-delete-after-revoke \
           --server "$ACME_DIRECTORY_URL" \
           --cert-path "$live/cert.pem" --reason superseded \
           --config-dir "$work/cb1/config" --work-dir "$work/cb1/work" \
           --logs-dir "$work/cb1/logs" > "$work/revoke.out" 2>&1
    then
        ok "certbot revoke --reason superseded"
        itp_assert_revoked "certbot revoke" "$serial2" 4
    else
        nok "certbot revoke --reason superseded"
        stk_tail "$work/revoke.out" 20
        stk_tail "$work/cb1/logs/letsencrypt.log" 60
        itp_logs 30
    fi
fi

done_
