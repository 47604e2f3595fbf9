#!/bin/bash
# t/interop/lego.sh: lego (Debian 4.9) against a running stack: run (issue
# over http-01 with lego's own server on 127.0.0.1:$HTTP01PORT), renew
# (forced with --days 999: a new serial), revoke (when the directory has
# revokeCert; the database must then show the certificate revoked).
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init lego

domain=lego.example.test
path="$work/lego"
crt="$path/certificates/$domain.crt"

# lego CMD [ARGS...]: lego with the stack's listener CA trusted; output
# appended to $work/lego.out
lego_() {
    echo "=== lego $*" >> "$work/lego.out"
    env LEGO_CA_CERTIFICATES="$ACME_TLS_CA_BUNDLE" \
        timeout 180 lego --server "$ACME_DIRECTORY_URL" --accept-tos \
        --email "admin@example.test" --path "$path" --domains "$domain" \
        --key-type ec256 --http --http.port "127.0.0.1:$HTTP01PORT" \
        "$@" >> "$work/lego.out" 2>&1
}

lego_failed() {
    stk_tail "$work/lego.out" 40
    itp_logs 30
}

# 1. issue
if lego_ run && [ -s "$crt" ]; then
    ok "lego run -d $domain"
else
    nok "lego run -d $domain"
    lego_failed
    done_
fi

# lego's .crt is the full chain (leaf first)
itp_check_cert "lego run" "$crt" "$crt" "$domain"
serial1=$(itp_serial "$crt")

if [ "$(psql "$ACME_DB_CONNINFO" -X -Atc "select count(*) from
        certificates where serial = '$serial1'")" = 1 ]
then
    ok "lego run: serial $serial1 is in the database"
else
    nok "lego run: serial $serial1 is in the database"
fi

# 2. forced renewal: same account, new order, new certificate
if lego_ renew --days 999 --no-random-sleep \
   && [ -s "$crt" ] \
   && serial2=$(itp_serial "$crt") \
   && [ "$serial2" != "$serial1" ]
then
    ok "lego renew --days 999 (new serial $serial2)"
    itp_check_cert "lego renew" "$crt" "$crt" "$domain"
else
    nok "lego renew --days 999 (new serial)"
    lego_failed
    serial2=
fi

# 3. revocation by the account that owns the certificate
if ! itp_dir_has revokeCert; then
    nok "the directory has revokeCert"
elif [ -z "$serial2" ]; then
    nok "lego revoke (no renewed certificate to revoke)"
else
    if lego_ revoke --reason 4; then
        ok "lego revoke --reason 4"
        itp_assert_revoked "lego revoke" "$serial2" 4
    else
        nok "lego revoke --reason 4"
        lego_failed
    fi
fi

done_
