# shellcheck shell=bash
# t/interop/lib.sh: shell helpers shared by the t/interop/*.sh scripts.
# Sourced (bash). Defines functions only, until itp_init is called.
#
#   itp_init NAME       sources scripts/lib-stack.sh and the stack's env file
#                       ($ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
#                       $REPO/.stack/env), creates $work (removed on exit)
#   ok / nok            one TAP-like line each
#   done_               prints "N passed, N failed" and exits (non-zero when
#                       anything failed)

# scripts/test.sh runs every t/interop/*.sh, this file too: no tests here
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "# t/interop/lib.sh holds helpers only"
    echo "0 passed, 0 failed"
    exit 0
fi

ITP_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091
. "$ITP_REPO/scripts/lib-stack.sh"

passed=0
failed=0
work=
ITP_PIDS=()

ok()    { passed=$((passed + 1)); echo "ok - $*"; }
nok()   { failed=$((failed + 1)); echo "not ok - $*"; }
done_() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
}

# itp_cleanup: stops the helpers started by itp_bg and removes $work
itp_cleanup() {
    local pid
    for pid in "${ITP_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${ITP_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    ITP_PIDS=()
    if [ -n "$work" ] && [ -d "$work" ]; then
        if [ "${ACME_INTEROP_KEEP:-0}" = 1 ]; then
            echo "# kept $work"
        else
            rm -rf "$work"
        fi
    fi
}

# itp_init NAME: env file, counters, $work
itp_init() {
    local name=$1
    envfile=${ACME_STACK_ENV:-${ACME_STACK_DIR:-$ITP_REPO/.stack}/env}
    if [ ! -f "$envfile" ]; then
        nok "stack env file $envfile exists (start one: make up)"
        done_
    fi
    # shellcheck disable=SC1090
    . "$envfile"
    # the machine's proxies and CA bundles must not get in the way
    export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
    work=$(mktemp -d "/tmp/acme-$name.XXXXXX") || exit 1
    chmod 0755 "$work"
    trap itp_cleanup EXIT
    trap 'echo "# interrupted"; exit 130' INT TERM
}

# itp_directory: the directory object (JSON) on stdout
itp_directory() {
    curl -sS --max-time 10 --cacert "$ACME_TLS_CA_BUNDLE" \
        "$ACME_DIRECTORY_URL"
}

# itp_dir_has FIELD: the directory advertises FIELD (e.g. revokeCert)
itp_dir_has() {
    itp_directory 2>/dev/null | /usr/bin/python3 -c '
import json, sys
sys.exit(0 if sys.argv[1] in json.load(sys.stdin) else 1)' "$1"
}

# itp_serial CERT: the certificate's serial, lowercase hex as the database
# stores it
itp_serial() {
    openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' \
        | tr 'A-F' 'a-f'
}

# itp_db_revocation SERIAL: "t|REASON" when the database has the
# certificate revoked, "f|" when not, nothing when there is no such row
itp_db_revocation() {
    psql "$ACME_DB_CONNINFO" -X -Atc "select revoked_at is not null,
        revocation_reason from certificates where serial = '$1'" 2>&1
}

# itp_assert_revoked NAME SERIAL REASON: ok/nok on the database's record
itp_assert_revoked() {
    local what=$1 serial=$2 reason=$3 got
    got=$(itp_db_revocation "$serial")
    if [ "$got" = "t|$reason" ]; then
        ok "$what: serial $serial revoked in the database (reason $reason)"
    else
        nok "$what: serial $serial revoked in the database (reason $reason)"
        echo "# select revoked_at is not null, revocation_reason: '$got'"
    fi
}

# itp_split_pem FILE OUTDIR: writes OUTDIR/0.pem, 1.pem, ... (one
# certificate each) and prints how many
itp_split_pem() {
    local f=$1 d=$2
    mkdir -p "$d"
    awk -v d="$d" '
        /-----BEGIN CERTIFICATE-----/ { out = d "/" n ".pem"; n++ }
        out { print > out }
        /-----END CERTIFICATE-----/ { close(out); out = "" }
        END { print n + 0 }' "$f"
}

# itp_check_cert NAME CERT CHAIN DOMAIN: the usual assertions on an issued
# certificate: chain (CHAIN may be empty or the full chain including the
# leaf) verifies against the stack's issuing CA, SAN has DOMAIN, serverAuth,
# not a CA
itp_check_cert() {
    local what=$1 cert=$2 chain=$3 domain=$4 text untrusted=() n i
    if [ -n "$chain" ] && [ -s "$chain" ]; then
        n=$(itp_split_pem "$chain" "$work/split.$$")
        # everything but the leaf is an intermediate candidate
        for ((i = 1; i < n; i++)); do
            untrusted+=(-untrusted "$work/split.$$/$i.pem")
        done
    fi
    if openssl verify -CAfile "$ACME_CA_CERT" "${untrusted[@]}" "$cert" \
        > "$work/verify.out" 2>&1
    then
        ok "$what: chain verifies against the stack's CA"
    else
        nok "$what: chain verifies against the stack's CA"
        sed 's/^/# /' "$work/verify.out"
    fi
    rm -rf "$work/split.$$"

    text=$(openssl x509 -in "$cert" -noout -text 2>&1)
    if grep -A1 'X509v3 Subject Alternative Name' <<< "$text" \
       | grep -qE "DNS:${domain//./\\.}(,|\$)"
    then
        ok "$what: SAN has DNS:$domain"
    else
        nok "$what: SAN has DNS:$domain"
        grep -A1 'Subject Alternative Name' <<< "$text" | sed 's/^/# /'
    fi
    if grep -A1 'X509v3 Extended Key Usage' <<< "$text" \
       | grep -q 'TLS Web Server Authentication'
    then
        ok "$what: EKU has serverAuth"
    else
        nok "$what: EKU has serverAuth"
    fi
    if grep -q 'CA:TRUE' <<< "$text"; then
        nok "$what: end-entity certificate is not a CA"
    else
        ok "$what: end-entity certificate is not a CA"
    fi
}

# itp_bg SECONDS COMMAND...: runs COMMAND in the background under timeout
# (stopped by itp_cleanup at the latest); its pid in ITP_LAST_PID
itp_bg() {
    local secs=$1
    shift
    timeout "$secs" "$@" &
    ITP_LAST_PID=$!
    ITP_PIDS+=("$ITP_LAST_PID")
}

# itp_stop PID: stops one helper started by itp_bg
itp_stop() {
    local pid=$1 p keep=()
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${ITP_PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    ITP_PIDS=("${keep[@]}")
}

# itp_webroot_start ROOT [SECONDS]: a small HTTP server on
# 127.0.0.1:$HTTP01PORT serving ROOT (tokens go to
# ROOT/.well-known/acme-challenge/); pid in ITP_WEB_PID. Its log is
# $work/webroot.log.
itp_webroot_start() {
    local root=$1 secs=${2:-300}
    mkdir -p "$root/.well-known/acme-challenge"
    if ! stk_port_free "$HTTP01PORT"; then
        echo "# port $HTTP01PORT is busy:"
        ss -Htlnp "sport = :$HTTP01PORT" | sed 's/^/# /'
        return 1
    fi
    itp_bg "$secs" /usr/bin/python3 -m http.server --bind 127.0.0.1 \
        --directory "$root" "$HTTP01PORT" >> "$work/webroot.log" 2>&1
    ITP_WEB_PID=$ITP_LAST_PID
    stk_wait 10 "http-01 server on 127.0.0.1:$HTTP01PORT" \
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$HTTP01PORT/"
}

itp_webroot_stop() {
    [ -n "${ITP_WEB_PID:-}" ] && itp_stop "$ITP_WEB_PID"
    ITP_WEB_PID=
}

# itp_logs [N]: the server's logs after a failure
itp_logs() {
    stk_tail "$NGINX_ERROR_LOG" "${1:-30}"
    stk_tail "$VALIDATOR_LOG" "${1:-30}"
}

# --- DNS (knot in the stack, RFC 2136 updates signed with the TSIG key) ----

ITP_DNS_NAMES=()

# itp_nsupdate: sends the "update ..." lines read from stdin to the stack's
# knot (zone example.test) signed with $NSUPDATE_KEY_FILE; output in
# $work/nsupdate.out
itp_nsupdate() {
    {
        echo "server 127.0.0.1 $DNSPORT"
        echo "zone example.test"
        cat
        echo "send"
    } | timeout 15 nsupdate -t 5 -k "$NSUPDATE_KEY_FILE" \
        >> "$work/nsupdate.out" 2>&1
}

# itp_dns_add NAME TYPE RDATA: adds one record (TTL 10) and remembers NAME
# for itp_dns_cleanup
itp_dns_add() {
    local name=$1 type=$2
    shift 2
    ITP_DNS_NAMES+=("$name")
    echo "update add $name 10 $type $*" | itp_nsupdate
}

# itp_dns_cleanup: deletes every record at the names given to itp_dns_add
# (and their _acme-challenge names)
itp_dns_cleanup() {
    local n
    [ ${#ITP_DNS_NAMES[@]} = 0 ] && return 0
    for n in "${ITP_DNS_NAMES[@]}"; do
        echo "update delete $n"
        echo "update delete _acme-challenge.$n"
    done | itp_nsupdate
    ITP_DNS_NAMES=()
}

# itp_dig NAME TYPE: the records the stack's DNS server answers, +short
itp_dig() {
    dig @127.0.0.1 -p "$DNSPORT" +time=2 +tries=2 +short "$1" "$2"
}

# --- lego with the stack's settings ----------------------------------------

# itp_lego PATH LOG ARGS...: lego --server ... --path PATH ARGS, with the
# listener CA trusted and lego's rfc2136 provider pointed at the stack's
# knot (used when ARGS has --dns rfc2136, see ITP_LEGO_DNS); output
# appended to LOG
itp_lego() {
    local path=$1 log=$2
    shift 2
    echo "=== lego $*" >> "$log"
    env LEGO_CA_CERTIFICATES="$ACME_TLS_CA_BUNDLE" \
        RFC2136_NAMESERVER="127.0.0.1:$DNSPORT" \
        RFC2136_TSIG_KEY="$TSIG_KEY_NAME" \
        RFC2136_TSIG_SECRET="$TSIG_SECRET" \
        RFC2136_TSIG_ALGORITHM="$TSIG_ALGORITHM." \
        RFC2136_TTL=10 RFC2136_PROPAGATION_TIMEOUT=20 \
        RFC2136_POLLING_INTERVAL=1 RFC2136_SEQUENCE_INTERVAL=1 \
        timeout 60 lego --server "$ACME_DIRECTORY_URL" --accept-tos \
        --email admin@example.test --path "$path" --key-type ec256 \
        "$@" >> "$log" 2>&1
}

# itp_lego_dns_flags: sets ITP_LEGO_DNS to lego's dns-01 flags for the
# stack: the rfc2136 provider, the stack's DNS server for lego's lookups
# (the zone's SOA), and --dns.disable-cp, since lego's propagation check
# resolves the zone's NS names with the system resolver, which does not
# know example.test (RECIPES 5). Without RFC2136_SEQUENCE_INTERVAL (set by
# itp_lego) lego waits 60 s between names.
itp_lego_dns_flags() {
    # shellcheck disable=SC2034  # used by the sourcing scripts
    ITP_LEGO_DNS=(--dns rfc2136 --dns.resolvers "127.0.0.1:$DNSPORT"
                  --dns.disable-cp)
}

# itp_lego_account_uri PATH: the account URL lego registered under PATH
itp_lego_account_uri() {
    local f
    f=$(find "$1/accounts" -name account.json 2>/dev/null | head -n1)
    [ -n "$f" ] || return 1
    /usr/bin/python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))["registration"]["uri"])' "$f"
}

# --- certificates and the database -----------------------------------------

# itp_cert_sans CERT: the certificate's subjectAltName entries, sorted, one
# a line (DNS:name, IP Address:addr)
itp_cert_sans() {
    openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null \
        | sed 1d | tr ',' '\n' | sed 's/^ *//; /^$/d' | LC_ALL=C sort
}

# itp_assert_sans WHAT CERT ENTRY...: the SANs are exactly ENTRY...
# (e.g. DNS:*.example.test DNS:example.test)
itp_assert_sans() {
    local what=$1 cert=$2 got want
    shift 2
    got=$(itp_cert_sans "$cert")
    want=$(printf '%s\n' "$@" | LC_ALL=C sort)
    if [ "$got" = "$want" ]; then
        ok "$what: SANs are exactly $*"
    else
        nok "$what: SANs are exactly $*"
        echo "# got: $(tr '\n' ' ' <<< "$got")"
    fi
}

# itp_db_cert_challenges SERIAL: for the order of the certificate SERIAL,
# one line per challenge: IDENTIFIER|WILDCARD(t/f)|TYPE|STATUS, sorted
itp_db_cert_challenges() {
    psql "$ACME_DB_CONNINFO" -X -Atc "select a.identifier_value,
        a.wildcard, c.type, c.status
        from certificates ce
        join order_authorizations oa on oa.order_id = ce.order_id
        join authorizations a on a.id = oa.authorization_id
        join challenges c on c.authorization_id = a.id
        where ce.serial = '$1' order by 1, 2, 3" 2>&1
}

# itp_db_challenge_error NAME TYPE: sets ITP_CHALLENGE_ERROR to the error
# (JSON, empty when none) of the newest TYPE challenge for the identifier
# NAME and ITP_CHALLENGE_PROBLEM to its "type". Not in $(...): it sets
# variables.
itp_db_challenge_error() {
    ITP_CHALLENGE_ERROR=$(psql "$ACME_DB_CONNINFO" -X -Atc "select
        coalesce(c.error, '') from challenges c
        join authorizations a on a.id = c.authorization_id
        where a.identifier_value = '$1' and c.type = '$2'
        order by c.id desc limit 1" 2>&1)
    # shellcheck disable=SC2034  # used by the sourcing scripts
    ITP_CHALLENGE_PROBLEM=$(/usr/bin/python3 -c '
import json, sys
try:
    print(json.loads(sys.argv[1]).get("type", ""))
except (ValueError, AttributeError):
    print("")' "$ITP_CHALLENGE_ERROR")
}
