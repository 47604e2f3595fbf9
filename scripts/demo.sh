#!/bin/bash
# scripts/demo.sh: the main job. Starts a private stack in a fresh temporary
# directory, lets certbot get a certificate for www.example.test over
# http-01 from the nginx ACME server, verifies it against the CA made in the
# SoftHSM token, and stops the stack again, success or failure.
#
# ACME_DEMO_KEEP=1 keeps the temporary directory (it is always kept when
# the demo fails, for its logs).
set -uo pipefail

. "$(dirname "$0")/lib-stack.sh"
cd "$ACME_REPO" || exit 1

DOMAIN=www.example.test
DIR=$(mktemp -d /tmp/acme-demo.XXXXXX) || exit 1
export ACME_STACK_DIR=$DIR
ok=0

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ $ok != 1 ]; then
        echo
        echo "demo: FAILED"
        stk_dump_logs "$DIR"
    fi
    "$ACME_REPO/scripts/stack.sh" down || true
    if [ $ok = 1 ] && [ "${ACME_DEMO_KEEP:-0}" != 1 ]; then
        rm -rf "$DIR"
    else
        echo "demo: files kept in $DIR"
    fi
    [ $ok = 1 ] && exit 0
    [ $rc = 0 ] && rc=1
    exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM

echo "== starting the stack in $DIR"
if ! "$ACME_REPO/scripts/stack.sh" up; then
    echo "demo: the stack did not start"
    exit 1
fi
stk_load_env "$DIR" || exit 1

echo
echo "== certbot certonly --standalone -d $DOMAIN"
echo "   server $ACME_DIRECTORY_URL, http-01 on 127.0.0.1:$HTTP01PORT"
start=$SECONDS
if ! stk_certbot "$DIR/certbot" demo "$DOMAIN"; then
    echo "demo: certbot failed"
    stk_certbot_failed "$DIR/certbot"
    exit 1
fi
echo "   certbot succeeded in $((SECONDS - start)) s"

live="$DIR/certbot/config/live/demo"
cert="$live/cert.pem"
if [ ! -s "$cert" ]; then
    echo "demo: certbot said yes but $cert is missing"
    exit 1
fi

echo
echo "== openssl verify -CAfile ca/ca.pem"
untrusted=()
[ -s "$live/chain.pem" ] && untrusted=(-untrusted "$live/chain.pem")
if ! openssl verify -CAfile "$ACME_CA_CERT" "${untrusted[@]}" "$cert"; then
    echo "demo: the certificate does not verify against $ACME_CA_CERT"
    exit 1
fi

echo
echo "== the certificate"
openssl x509 -in "$cert" -noout -subject -issuer -serial -dates \
    -ext subjectAltName,extendedKeyUsage 2>/dev/null \
    || openssl x509 -in "$cert" -noout -subject -issuer -serial -dates
if ! openssl x509 -in "$cert" -noout -ext subjectAltName 2>/dev/null \
     | grep -q "DNS:$DOMAIN"
then
    echo "demo: the certificate has no SAN DNS:$DOMAIN"
    exit 1
fi

ok=1
echo
echo "demo: OK: certbot got a certificate for $DOMAIN from nginx-acme-server"
