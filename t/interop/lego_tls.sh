#!/bin/bash
# t/interop/lego_tls.sh: lego (Debian 4.9) tls-alpn-01 (RFC 8737) with
# lego's own TLS server on 127.0.0.1:$TLSALPN01PORT, the port the stack's
# validator connects to: one certificate for two names, each validated over
# tls-alpn-01 (lego answers one name at a time on the same port). Then the
# failure: lego's server on another port, nothing on $TLSALPN01PORT ->
# the challenge fails with a connection problem.
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init lego-tls

path="$work/lego"
log="$work/lego.out"
d1=tls.example.test
d2=tls2.example.test
crt="$path/certificates/$d1.crt"

lego_failed() {
    stk_tail "$log" 40
    itp_logs 30
}

if ! stk_port_free "$TLSALPN01PORT"; then
    nok "port $TLSALPN01PORT is free for lego's tls-alpn-01 server"
    ss -Htlnp "sport = :$TLSALPN01PORT" | sed 's/^/# /'
    done_
fi

# 1. issue over tls-alpn-01
if itp_lego "$path" "$log" --tls --tls.port "127.0.0.1:$TLSALPN01PORT" \
       --domains "$d1" --domains "$d2" run \
   && [ -s "$crt" ]
then
    ok "lego --tls run -d $d1 -d $d2"
else
    nok "lego --tls run -d $d1 -d $d2"
    lego_failed
    done_
fi

itp_check_cert "lego tls-alpn-01" "$crt" "$crt" "$d1"
itp_assert_sans "lego tls-alpn-01" "$crt" "DNS:$d1" "DNS:$d2"
serial=$(itp_serial "$crt")

chals=$(itp_db_cert_challenges "$serial")
want="$d1|f|tls-alpn-01|valid
$d2|f|tls-alpn-01|valid"
got=$(grep '|valid$' <<< "$chals")
if [ "$got" = "$want" ]; then
    ok "lego tls-alpn-01: both names were validated over tls-alpn-01"
else
    nok "lego tls-alpn-01: both names were validated over tls-alpn-01"
    sed 's/^/# /' <<< "$chals"
fi

# 2. nothing listens where the validator connects: connection problem
d3="tls-noserver-$RANDOM.example.test"
other=$(stk_pick_ports 1)
if itp_lego "$path" "$log" --tls --tls.port "127.0.0.1:$other" \
       --domains "$d3" run
then
    nok "lego --tls on the wrong port fails ($d3)"
else
    ok "lego --tls on the wrong port fails ($d3)"
fi
itp_db_challenge_error "$d3" tls-alpn-01
ptype=$ITP_CHALLENGE_PROBLEM
if [ "$ptype" = urn:ietf:params:acme:error:connection ]; then
    ok "tls-alpn-01 with no server: challenge error is connection"
else
    nok "tls-alpn-01 with no server: challenge error is connection"
    echo "# challenges.error: $ITP_CHALLENGE_ERROR"
    stk_tail "$log" 10
fi

done_
