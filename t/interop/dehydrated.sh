#!/bin/bash
# t/interop/dehydrated.sh: dehydrated (Debian 0.7) against a running stack,
# http-01: dehydrated writes the tokens to WELLKNOWN, a small python HTTP
# server on 127.0.0.1:$HTTP01PORT serves them, and a hook checks each token
# is reachable before dehydrated answers the challenge.
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init dehydrated

domain=dehydrated.example.test
base="$work/dh"
root="$work/webroot"
mkdir -p "$base"

# the hook: deploy_challenge DOMAIN TOKEN_FILENAME KEY_AUTH must find the
# token served on the http-01 port; every call is logged
cat > "$base/hook.sh" <<EOF
#!/bin/bash
echo "\$*" >> "$base/hook.log"
case \$1 in
deploy_challenge)
    got=\$(curl -s --max-time 5 \\
        "http://127.0.0.1:$HTTP01PORT/.well-known/acme-challenge/\$3")
    if [ "\$got" != "\$4" ]; then
        echo "hook: token \$3 not served on port $HTTP01PORT" >&2
        exit 1
    fi
    ;;
esac
exit 0
EOF
chmod 0755 "$base/hook.sh"

cat > "$base/config" <<EOF
CA="$ACME_DIRECTORY_URL"
CURL_OPTS="--cacert $ACME_TLS_CA_BUNDLE --max-time 30"
IP_VERSION=4
BASEDIR="$base"
CERTDIR="$base/certs"
ACCOUNTDIR="$base/accounts"
DOMAINS_TXT="$base/domains.txt"
LOCKFILE="$base/lock"
WELLKNOWN="$root/.well-known/acme-challenge"
CHALLENGETYPE="http-01"
HOOK="$base/hook.sh"
CONTACT_EMAIL="admin@example.test"
RENEW_DAYS=30
EOF
: > "$base/domains.txt"

dh() {
    echo "=== dehydrated $*" >> "$work/dehydrated.out"
    env -u CURL_CA_BUNDLE timeout 180 dehydrated --config "$base/config" \
        "$@" >> "$work/dehydrated.out" 2>&1
}

dh_failed() {
    stk_tail "$work/dehydrated.out" 40
    stk_tail "$base/hook.log" 20
    stk_tail "$work/webroot.log" 20
    itp_logs 30
}

if ! itp_webroot_start "$root" 300; then
    nok "http-01 server on 127.0.0.1:$HTTP01PORT"
    done_
fi

# 1. account
if dh --register --accept-terms; then
    ok "dehydrated --register --accept-terms"
else
    nok "dehydrated --register --accept-terms"
    dh_failed
    done_
fi

# 2. issue
cert="$base/certs/$domain/cert.pem"
chain="$base/certs/$domain/fullchain.pem"
if dh --cron --force --domain "$domain" && [ -s "$cert" ]; then
    ok "dehydrated --cron --force -d $domain"
else
    nok "dehydrated --cron --force -d $domain"
    dh_failed
    done_
fi

if grep -q "^deploy_challenge $domain " "$base/hook.log" \
   && grep -q "^clean_challenge $domain " "$base/hook.log"
then
    ok "hook: deploy_challenge and clean_challenge for $domain"
else
    nok "hook: deploy_challenge and clean_challenge for $domain"
    stk_tail "$base/hook.log" 20
fi

if grep -q "/.well-known/acme-challenge/.* 200 " "$work/webroot.log"; then
    ok "the stack's validator fetched the token"
else
    nok "the stack's validator fetched the token"
    stk_tail "$work/webroot.log" 20
fi

itp_check_cert "dehydrated" "$cert" "$chain" "$domain"
serial1=$(itp_serial "$cert")

# 3. forced reissue with the same account: a new serial
if dh --cron --force --domain "$domain" && [ -s "$cert" ] \
   && [ "$(itp_serial "$cert")" != "$serial1" ]
then
    ok "dehydrated --cron --force again: new serial"
    itp_check_cert "dehydrated renew" "$cert" "$chain" "$domain"
else
    nok "dehydrated --cron --force again: new serial"
    dh_failed
fi

itp_webroot_stop
done_
