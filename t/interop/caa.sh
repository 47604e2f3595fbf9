#!/bin/bash
# t/interop/caa.sh: CAA (RFC 8659, RFC 8657) seen through lego (Debian 4.9):
# CAA records are added to the stack's knot with nsupdate at fresh labels
# under example.test (the stack's validator has the CA identity
# acme.example.test) and lego asks for certificates for those names. A
# refusal must fail the challenge with urn:ietf:params:acme:error:caa and a
# detail that names the record; permitted cases must issue.
#
#   deny       0 issue "other-ca.example"                     http-01 refused
#   critical   0 issue "acme.example.test" + 128 tbs "x"        refused
#   methods    0 issue "acme.example.test; validationmethods=dns-01"
#                                          http-01 refused, dns-01 issues
#   account    accounturi=<lego's account> issues, another account refused
#   wild       0 issue "acme.example.test" + 0 issuewild ";"
#                                    *.NAME refused (dns-01), NAME issues
#   tree       CAA deny at P, certificate for sub.P refused (tree climbing)
#   cname      NAME CNAME T, deny at T: refused (CAA follows the alias)
#
# Every record added is deleted at the end (and on interruption).
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init caa
trap 'itp_dns_cleanup; itp_cleanup' EXIT
itp_lego_dns_flags

path="$work/lego"
log="$work/lego.out"
tag="$RANDOM$RANDOM"
CAA_PROBLEM=urn:ietf:params:acme:error:caa

if ! stk_port_free "$HTTP01PORT"; then
    nok "port $HTTP01PORT is free for lego's http-01 server"
    done_
fi

http01() { itp_lego "$path" "$log" --http --http.port \
               "127.0.0.1:$HTTP01PORT" --domains "$@" run; }
dns01()  { itp_lego "$path" "$log" "${ITP_LEGO_DNS[@]}" --domains "$@" run; }

# publish NAME: A 127.0.0.1 for NAME plus the CAA records given as
# "FLAGS TAG VALUE" arguments; ok/nok on what the DNS server then answers
publish() {
    local name=$1 rr
    shift
    {
        echo "update add $name 10 A 127.0.0.1"
        for rr in "$@"; do
            echo "update add $name 10 CAA $rr"
        done
    } | itp_nsupdate
    ITP_DNS_NAMES+=("$name")
    if [ "$(itp_dig "$name" CAA | wc -l)" = $# ]; then
        ok "nsupdate: $name has its $# CAA record(s)"
    else
        nok "nsupdate: $name has its $# CAA record(s)"
        stk_tail "$work/nsupdate.out" 10
        itp_dig "$name" CAA | sed 's/^/# /'
    fi
}

# issued WHAT CERTNAME: lego wrote the certificate and it verifies
issued() {
    local what=$1 crt="$path/certificates/$2.crt"
    if [ -s "$crt" ] && openssl verify -CAfile "$ACME_CA_CERT" \
           -untrusted "$crt" "$crt" > /dev/null 2>&1
    then
        ok "$what: certificate issued and verifies"
    else
        nok "$what: certificate issued and verifies"
        stk_tail "$log" 20
        itp_logs 20
    fi
}

# refused WHAT NAME TYPE NEEDLE RC: lego failed (RC) and NAME's TYPE
# challenge failed with the caa problem whose detail contains NEEDLE
refused() {
    local what=$1 name=$2 type=$3 needle=$4 rc=$5 ptype
    if [ "$rc" != 0 ]; then
        ok "$what: lego fails"
    else
        nok "$what: lego fails"
    fi
    itp_db_challenge_error "$name" "$type"
    ptype=$ITP_CHALLENGE_PROBLEM
    if [ "$ptype" = "$CAA_PROBLEM" ]; then
        ok "$what: $type challenge error is caa"
    else
        nok "$what: $type challenge error is caa"
        echo "# challenges.error: ${ITP_CHALLENGE_ERROR:-(none)}"
        stk_tail "$log" 10
        return
    fi
    if [[ $ITP_CHALLENGE_ERROR == *"$needle"* ]]; then
        ok "$what: the detail names the record ($needle)"
    else
        nok "$what: the detail names the record ($needle)"
        echo "# challenges.error: $ITP_CHALLENGE_ERROR"
    fi
}

# 0. a control: a fresh name under the apex's CAA issues over http-01 (this
# also registers lego's account, used for accounturi below)
ctl="caa-ok-$tag.example.test"
http01 "$ctl"
issued "control $ctl (apex CAA permits)" "$ctl"

# 1. issue for another CA only
n="caa-deny-$tag.example.test"
publish "$n" '0 issue "other-ca.example"'
http01 "$n"
refused "deny ($n)" "$n" http-01 other-ca.example $?

# 2. an unknown tag with the critical flag, next to a permitting issue
n="caa-crit-$tag.example.test"
publish "$n" '0 issue "acme.example.test"' '128 tbs "x"'
http01 "$n"
refused "critical unknown tag ($n)" "$n" http-01 tbs $?

# 3. RFC 8657 validationmethods=dns-01
n="caa-vm-$tag.example.test"
publish "$n" '0 issue "acme.example.test; validationmethods=dns-01"'
http01 "$n"
refused "validationmethods=dns-01, http-01 ($n)" "$n" http-01 \
    validationmethods $?
dns01 "$n"
issued "validationmethods=dns-01, dns-01 ($n)" "$n"

# 4. RFC 8657 accounturi
acct=$(itp_lego_account_uri "$path")
if [ -z "$acct" ]; then
    nok "lego's account URI is known (accounturi tests)"
else
    n="caa-acct-$tag.example.test"
    publish "$n" "0 issue \"acme.example.test; accounturi=$acct\""
    http01 "$n"
    issued "accounturi=<this account> ($n)" "$n"
    n="caa-acct2-$tag.example.test"
    publish "$n" "0 issue \"acme.example.test; accounturi=${acct}x\""
    http01 "$n"
    refused "accounturi=<another account> ($n)" "$n" http-01 accounturi $?
fi

# 5. issuewild ";" forbids wildcards only
n="caa-wild-$tag.example.test"
publish "$n" '0 issue "acme.example.test"' '0 issuewild ";"'
dns01 "*.$n"
refused "issuewild \";\", *.$n" "$n" dns-01 issuewild $?
http01 "$n"
issued "issuewild \";\", $n itself" "$n"

# 6. tree climbing: the record at the parent governs sub.PARENT
p="caa-tree-$tag.example.test"
publish "$p" '0 issue "other-ca.example"'
echo "update add sub.$p 10 A 127.0.0.1" | itp_nsupdate
ITP_DNS_NAMES+=("sub.$p")
http01 "sub.$p"
refused "tree climbing (sub.$p)" "sub.$p" http-01 other-ca.example $?

# 7. CNAME: the alias's CAA set is the target's
t="caa-target-$tag.example.test"
a="caa-alias-$tag.example.test"
publish "$t" '0 issue "other-ca.example"'
echo "update add $a 10 CNAME $t." | itp_nsupdate
ITP_DNS_NAMES+=("$a")
http01 "$a"
refused "CNAME to a denying name ($a)" "$a" http-01 other-ca.example $?

# 8. clean up and check
itp_dns_cleanup
left=
for n in deny crit vm acct acct2 wild tree target alias; do
    left+=$(itp_dig "caa-$n-$tag.example.test" CAA)
done
left+=$(itp_dig "caa-alias-$tag.example.test" CNAME)
left+=$(itp_dig "_acme-challenge.caa-vm-$tag.example.test" TXT)
# (A records can't be checked by name: the zone's "* A 127.0.0.1" answers)
if [ -z "$left" ]; then
    ok "test records deleted from the zone"
else
    nok "test records deleted from the zone"
    echo "# left: $left"
fi

done_
