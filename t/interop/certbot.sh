#!/bin/bash
# t/interop/certbot.sh: certbot (Debian 2.1) against a running stack, http-01
# with certbot's standalone server on 127.0.0.1:$HTTP01PORT.
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/scripts/lib-stack.sh"

envfile=${ACME_STACK_ENV:-${ACME_STACK_DIR:-$REPO/.stack}/env}
passed=0
failed=0

ok()   { passed=$((passed + 1)); echo "ok - $*"; }
nok()  { failed=$((failed + 1)); echo "not ok - $*"; }
done_() { echo "$passed passed, $failed failed"; [ $failed = 0 ]; exit; }

if [ ! -f "$envfile" ]; then
    nok "stack env file $envfile exists (start one: make up)"
    done_
fi
# shellcheck disable=SC1090
. "$envfile"

work=$(mktemp -d /tmp/acme-certbot.XXXXXX)
trap 'rm -rf "$work"' EXIT

# 1. single name over http-01
if stk_certbot "$work/cb1" one www.example.test; then
    ok "certbot certonly -d www.example.test"
else
    nok "certbot certonly -d www.example.test"
    stk_certbot_failed "$work/cb1"
    stk_tail "$NGINX_ERROR_LOG" 30
    stk_tail "$VALIDATOR_LOG" 30
    done_
fi

live="$work/cb1/config/live/one"
cert="$live/cert.pem"
untrusted=()
[ -s "$live/chain.pem" ] && untrusted=(-untrusted "$live/chain.pem")

if openssl verify -CAfile "$ACME_CA_CERT" "${untrusted[@]}" "$cert"; then
    ok "chain verifies against the stack's CA"
else
    nok "chain verifies against the stack's CA"
fi

text=$(openssl x509 -in "$cert" -noout -text 2>&1)
if grep -A1 'X509v3 Subject Alternative Name' <<< "$text" \
   | grep -q 'DNS:www\.example\.test\b'
then
    ok "SAN has DNS:www.example.test"
else
    nok "SAN has DNS:www.example.test"
    grep -A1 'Subject Alternative Name' <<< "$text"
fi

if grep -A1 'X509v3 Extended Key Usage' <<< "$text" \
   | grep -q 'TLS Web Server Authentication'
then
    ok "EKU has serverAuth"
else
    nok "EKU has serverAuth"
    grep -A1 'Extended Key Usage' <<< "$text"
fi

if grep -q 'CA:TRUE' <<< "$text"; then
    nok "end-entity certificate is not a CA"
else
    ok "end-entity certificate is not a CA"
fi

# 2. renewal with the same account: a second order for the same name
serial1=$(openssl x509 -in "$cert" -noout -serial)
if env REQUESTS_CA_BUNDLE="$ACME_TLS_CA_BUNDLE" timeout 120 certbot renew \
       --non-interactive --no-random-sleep-on-renew --force-renewal \
       --cert-name one \
       --config-dir "$work/cb1/config" --work-dir "$work/cb1/work" \
       --logs-dir "$work/cb1/logs" > "$work/renew.out" 2>&1 \
   && openssl verify -CAfile "$ACME_CA_CERT" "${untrusted[@]}" \
       "$live/cert.pem" > /dev/null \
   && [ "$(openssl x509 -in "$live/cert.pem" -noout -serial)" != "$serial1" ]
then
    ok "certbot renew --force-renewal"
else
    nok "certbot renew --force-renewal"
    stk_tail "$work/renew.out" 30
fi

done_
