#!/bin/bash
# t/interop/certbot_dns.sh: certbot (Debian 2.1) dns-01 with Debian's
# python3-certbot-dns-rfc2136 plugin against the stack's knot (TSIG
# credentials in $RFC2136_INI): one certificate for *.cbdns.example.test and
# cbdns.example.test, then a renewal with the same account and plugin
# settings (certbot stores them in its renewal config).
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init certbot-dns

base=cbdns.example.test
out="$work/cb"
live="$out/config/live/wild"
mkdir -p "$out"

if ! /usr/bin/python3 -c 'import certbot_dns_rfc2136' 2>/dev/null; then
    nok "python3-certbot-dns-rfc2136 is installed"
    done_
fi

# certbot refuses credentials files that others can read
if [ "$(stat -c %a "$RFC2136_INI")" != 600 ]; then
    cp "$RFC2136_INI" "$work/rfc2136.ini"
    chmod 0600 "$work/rfc2136.ini"
    RFC2136_INI="$work/rfc2136.ini"
fi

certbot_() {
    echo "=== certbot $*" >> "$out/certbot.out"
    env REQUESTS_CA_BUNDLE="$ACME_TLS_CA_BUNDLE" \
        timeout 50 certbot "$@" --non-interactive \
        --config-dir "$out/config" --work-dir "$out/work" \
        --logs-dir "$out/logs" >> "$out/certbot.out" 2>&1
}

certbot_failed() {
    stk_certbot_failed "$out"
    itp_logs 30
}

# 1. wildcard + its base name over dns-01
if certbot_ certonly --agree-tos --register-unsafely-without-email \
       --server "$ACME_DIRECTORY_URL" \
       --dns-rfc2136 --dns-rfc2136-credentials "$RFC2136_INI" \
       --dns-rfc2136-propagation-seconds 1 \
       --cert-name wild -d "*.$base" -d "$base" \
   && [ -s "$live/cert.pem" ]
then
    ok "certbot --dns-rfc2136 certonly -d *.$base -d $base"
else
    nok "certbot --dns-rfc2136 certonly -d *.$base -d $base"
    certbot_failed
    done_
fi

itp_check_cert "certbot dns-01" "$live/cert.pem" "$live/fullchain.pem" "$base"
itp_assert_sans "certbot dns-01" "$live/cert.pem" "DNS:*.$base" "DNS:$base"
serial1=$(itp_serial "$live/cert.pem")

chals=$(itp_db_cert_challenges "$serial1")
want="$base|f|dns-01|valid
$base|t|dns-01|valid"
if [ "$(grep '|valid$' <<< "$chals")" = "$want" ]; then
    ok "certbot dns-01: both authorizations (one wildcard) validated over dns-01"
else
    nok "certbot dns-01: both authorizations (one wildcard) validated over dns-01"
    sed 's/^/# /' <<< "${chals:-(no rows for serial $serial1)}"
fi

left=$(itp_dig "_acme-challenge.$base" TXT)
if [ -z "$left" ]; then
    ok "certbot dns-01: _acme-challenge.$base TXT cleaned up"
else
    nok "certbot dns-01: _acme-challenge.$base TXT cleaned up"
    echo "# left: $left"
fi

# 2. renewal: certbot replays the dns-rfc2136 settings from renewal/wild.conf
if certbot_ renew --no-random-sleep-on-renew --force-renewal \
       --cert-name wild \
   && serial2=$(itp_serial "$live/cert.pem") \
   && [ "$serial2" != "$serial1" ]
then
    ok "certbot renew --force-renewal (dns-01, new serial $serial2)"
    itp_assert_sans "certbot renew" "$live/cert.pem" "DNS:*.$base" "DNS:$base"
    if openssl verify -CAfile "$ACME_CA_CERT" -untrusted "$live/chain.pem" \
           "$live/cert.pem" > "$work/verify2.out" 2>&1
    then
        ok "certbot renew: chain verifies against the stack's CA"
    else
        nok "certbot renew: chain verifies against the stack's CA"
        sed 's/^/# /' "$work/verify2.out"
    fi
else
    nok "certbot renew --force-renewal (dns-01, new serial)"
    certbot_failed
fi

done_
