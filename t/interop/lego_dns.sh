#!/bin/bash
# t/interop/lego_dns.sh: lego (Debian 4.9) dns-01 with its rfc2136 provider
# against the stack's knot (TSIG-signed RFC 2136 updates): one certificate
# for *.example.test, example.test and dns1.example.test. The wildcard
# becomes an authorization for example.test with wildcard:true that offers
# dns-01 only; the database must show every name validated over dns-01.
# Then, with the stack validator's DNSSEC trust anchors: *.dnssec.test (a
# zone Knot signs) is issued with every answer "secure", and a name in
# bogus.test (signed, then altered; lego's TXT records carry no signature)
# is refused with a "dns" problem.
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init lego-dns
itp_lego_dns_flags

path="$work/lego"
log="$work/lego.out"
crt="$path/certificates/_.example.test.crt"

lego_failed() {
    stk_tail "$log" 40
    itp_logs 30
}

# 1. issue: wildcard + apex + a plain name in one order
if itp_lego "$path" "$log" "${ITP_LEGO_DNS[@]}" \
       --domains '*.example.test' --domains example.test \
       --domains dns1.example.test run \
   && [ -s "$crt" ]
then
    ok "lego --dns rfc2136 run -d *.example.test -d example.test -d dns1.example.test"
else
    nok "lego --dns rfc2136 run -d *.example.test -d example.test -d dns1.example.test"
    lego_failed
    done_
fi

# lego's .crt is the full chain (leaf first)
itp_check_cert "lego dns-01" "$crt" "$crt" dns1.example.test
itp_assert_sans "lego dns-01" "$crt" DNS:*.example.test DNS:example.test \
    DNS:dns1.example.test
serial=$(itp_serial "$crt")

# 2. the database: the order's authorizations and their challenges
chals=$(itp_db_cert_challenges "$serial")
if [ -z "$chals" ]; then
    nok "lego dns-01: certificate $serial and its order are in the database"
else
    ok "lego dns-01: certificate $serial and its order are in the database"
fi
want_valid='dns1.example.test|f|dns-01|valid
example.test|f|dns-01|valid
example.test|t|dns-01|valid'
got_valid=$(grep '|valid$' <<< "$chals")
if [ "$got_valid" = "$want_valid" ]; then
    ok "lego dns-01: each authorization (wildcard too) was validated over dns-01"
else
    nok "lego dns-01: each authorization (wildcard too) was validated over dns-01"
    sed 's/^/# /' <<< "$chals"
fi
if [ "$(grep -c '^example\.test|t|' <<< "$chals")" = 1 ]; then
    ok "lego dns-01: the wildcard authorization offers dns-01 only"
else
    nok "lego dns-01: the wildcard authorization offers dns-01 only"
    grep '^example\.test|t|' <<< "$chals" | sed 's/^/# /'
fi

# 3. lego removed its TXT records again (RFC 2136 delete through knot)
left=$(itp_dig _acme-challenge.example.test TXT; \
       itp_dig _acme-challenge.dns1.example.test TXT)
if [ -z "$left" ]; then
    ok "lego dns-01: _acme-challenge TXT records cleaned up"
else
    nok "lego dns-01: _acme-challenge TXT records cleaned up"
    echo "# left: $left"
fi

# 4. DNSSEC: a signed zone, answers validated from the trust anchor
spath="$work/lego-signed"
slog="$work/lego-signed.out"
scrt="$spath/certificates/_.dnssec.test.crt"
if itp_lego "$spath" "$slog" "${ITP_LEGO_DNS[@]}" \
       --domains '*.dnssec.test' --domains dnssec.test run \
   && [ -s "$scrt" ]
then
    ok "lego --dns rfc2136 run -d *.dnssec.test -d dnssec.test (signed zone)"
    itp_assert_sans "lego dns-01 DNSSEC" "$scrt" DNS:*.dnssec.test \
        DNS:dnssec.test
else
    nok "lego --dns rfc2136 run -d *.dnssec.test -d dnssec.test (signed zone)"
    stk_tail "$slog" 40
    itp_logs 30
fi
states=$(psql "$ACME_DB_CONNINFO" -X -Atc "select distinct
    r.rec->>'dnssec' from challenges c
    join authorizations a on a.id = c.authorization_id,
    jsonb_array_elements(c.validation_record::jsonb) r(rec)
    where a.identifier_value = 'dnssec.test' and c.type = 'dns-01'
      and c.status = 'valid' and r.rec ? 'hostname'" 2>&1)
if [ "$states" = secure ]; then
    ok "lego dns-01 DNSSEC: the validation records say \"secure\""
else
    nok "lego dns-01 DNSSEC: the validation records say \"secure\""
    echo "# got: $states"
fi

# 5. DNSSEC: bogus answers are refused (RFC 4035 5.5)
bpath="$work/lego-bogus"
blog="$work/lego-bogus.out"
if itp_lego "$bpath" "$blog" "${ITP_LEGO_DNS[@]}" \
       --domains lego.bogus.test run
then
    nok "lego dns-01 in bogus.test fails"
else
    ok "lego dns-01 in bogus.test fails"
fi
itp_db_challenge_error lego.bogus.test dns-01
if [ "$ITP_CHALLENGE_PROBLEM" = "urn:ietf:params:acme:error:dns" ] \
   && grep -q 'DNSSEC validation failed (bogus)' <<< "$ITP_CHALLENGE_ERROR"
then
    ok "lego dns-01 in bogus.test: \"dns\" problem, DNSSEC validation failed"
else
    nok "lego dns-01 in bogus.test: \"dns\" problem, DNSSEC validation failed"
    echo "# got: $ITP_CHALLENGE_ERROR"
    stk_tail "$blog" 20
fi

done_
