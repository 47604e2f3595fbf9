# shellcheck shell=bash
# t/interop/lib.sh: shell helpers shared by the t/interop/*.sh scripts.
# Sourced (bash). Defines functions only, until itp_init is called.
#
#   itp_init NAME       sources scripts/lib-stack.sh and the stack's env file
#                       ($ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
#                       $REPO/.stack/env), creates $work (removed on exit)
#   ok / nok / skip     one TAP-like line each; skips are counted apart
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
skipped=0
work=
ITP_PIDS=()

ok()    { passed=$((passed + 1)); echo "ok - $*"; }
nok()   { failed=$((failed + 1)); echo "not ok - $*"; }
skip()  { skipped=$((skipped + 1)); echo "skip - $*"; }
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
