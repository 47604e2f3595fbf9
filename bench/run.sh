#!/bin/bash
# bench/run.sh: `make bench`.  Starts the local stack (scripts/stack.sh,
# HTTPS with keep-alive), Debian's pebble with pebble-challtestsrv, and a
# bare nginx answering `return 204`, all on 127.0.0.1 under one temporary
# directory; runs build/acme-bench in every mode against ours and pebble
# in alternation; runs wrk for the machine's HTTP ceiling; prints one
# table and writes build/bench.json.  Everything started here is stopped
# on exit, success or failure.
#
# Knobs (environment):
#   BENCH_DURATION=5        seconds per run (issue mode: BENCH_ISSUE_DURATION)
#   BENCH_MODES="nonce directory account authed issue issue-nora"
#   BENCH_CONC="1 8 64 256"         concurrencies of the quick modes
#   BENCH_ISSUE_CONC="1 4 64 256"   concurrencies of issue mode
#   BENCH_REPS=1            repetitions (the table shows the median)
#   BENCH_STALL=5           acme-bench --stall
#   BENCH_KEEP=1            keep the temporary directory (logs)
#   BENCH_OUT=build/bench.json
#   BENCH_DNSSEC=0          1: the validator validates DNSSEC (off by
#                           default, as in the validator's own default)
# "issue-nora" is issue mode with --ignore-retry-after: what the server can
# do when the client does not wait the Retry-After it is sent.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
export ACME_REPO=$REPO
. "$REPO/scripts/lib-stack.sh"

DURATION=${BENCH_DURATION:-5}
ISSUE_DURATION=${BENCH_ISSUE_DURATION:-8}
MODES=${BENCH_MODES:-nonce directory account authed issue issue-nora}
CONC=${BENCH_CONC:-1 8 64 256}
ISSUE_CONC=${BENCH_ISSUE_CONC:-1 4 64 256}
REPS=${BENCH_REPS:-1}
STALL=${BENCH_STALL:-5}
OUT=${BENCH_OUT:-$REPO/build/bench.json}
BENCH=$REPO/build/acme-bench

log() { printf '%s\n' "bench: $*" >&2; }
die() { printf '%s\n' "bench: error: $*" >&2; exit 1; }

# --- packages beyond scripts/deps.sh ---------------------------------------

need_pkgs() {
    local p st missing=()
    for p in pebble wrk; do
        st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$st" = installed ] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]} (apt-get install them)"
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
        > /dev/null 2>&1 \
        || { apt-get update -q > /dev/null 2>&1
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                 "${missing[@]}" > /dev/null; }
}

# --- start and stop ---------------------------------------------------------

T=
PEBBLE_PID=
CTS_PID=
NGX204_STARTED=0

cleanup() {
    local rc=$?
    set +e
    if [ -n "$T" ]; then
        if [ -f "$T/stack/env" ]; then
            ACME_STACK_DIR=$T/stack "$REPO/scripts/stack.sh" down \
                > "$T/stack-down.log" 2>&1
        fi
        [ -n "$PEBBLE_PID" ] && kill "$PEBBLE_PID" 2>/dev/null
        [ -n "$CTS_PID" ] && kill "$CTS_PID" 2>/dev/null
        if [ "$NGX204_STARTED" = 1 ]; then
            stk_kill_pidfile "$T/ngx204/nginx.pid" nginx-204 10
        fi
        wait 2>/dev/null
        if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
            log "logs kept in $T"
        else
            rm -rf "$T"
        fi
    fi
    exit $rc
}

start_stack() {
    log "starting the local stack in $T/stack"
    mkdir -p "$T/stack"
    ACME_STACK_DIR=$T/stack ACME_STACK_DNSSEC=${BENCH_DNSSEC:-0} \
        "$REPO/scripts/stack.sh" up > "$T/stack-up.log" 2>&1 \
        || { cat "$T/stack-up.log" >&2; die "stack did not start"; }
    stk_load_env "$T/stack"
    OURS_PIDS="$(head -n1 "$NGINX_PREFIX/logs/nginx.pid")"
    OURS_PIDS+=",$(head -n1 "$ACME_STACK_DIR/validator.pid")"
    OURS_PIDS+=",$(head -n1 "$ACME_STACK_DIR/redis/redis.pid")"
    OURS_PIDS+=",$(head -n1 "$ACME_STACK_DIR/pg/data/postmaster.pid")"
}

start_pebble() {
    local d=$T/pebble ports
    mkdir -p "$d"
    ports=$(stk_pick_ports 5)
    read -r PEBBLE_PORT PEBBLE_MGMT PEBBLE_TLS CTS_DNS CTS_MGMT <<< "$ports"
    log "starting pebble on 127.0.0.1:$PEBBLE_PORT"
    # RECIPES 5: Debian's pebble ships no test certificates
    (
        cd "$d"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout minica.key -out minica.pem -days 30 \
            -subj "/CN=pebble bench minica" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout key.pem -subj "/CN=localhost" -out srv.csr
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            "extendedKeyUsage=serverAuth" > ext.cnf
        openssl x509 -req -in srv.csr -CA minica.pem -CAkey minica.key \
            -CAcreateserial -days 30 -extfile ext.cnf -out cert.pem
    ) > "$d/certs.log" 2>&1 || { cat "$d/certs.log" >&2; die "pebble certs"; }

    # httpPort is where acme-bench's responder listens: the same port as
    # the stack's validator uses, so one --http01-listen serves both
    cat > "$d/pebble-config.json" <<EOF
{ "pebble": { "listenAddress": "127.0.0.1:$PEBBLE_PORT",
  "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT",
  "certificate": "$d/cert.pem", "privateKey": "$d/key.pem",
  "httpPort": $HTTP01PORT, "tlsPort": $PEBBLE_TLS,
  "ocspResponderURL": "", "externalAccountBindingRequired": false } }
EOF
    # every A is 127.0.0.1, no AAAA (RECIPES 5: pebble tries IPv6 first)
    pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
        -dns01 "127.0.0.1:$CTS_DNS" -http01 "" -https01 "" -tlsalpn01 "" \
        -management "127.0.0.1:$CTS_MGMT" > "$d/challtestsrv.log" 2>&1 &
    CTS_PID=$!
    run_pebble
}

# pebble itself; also used to restart it after it deadlocked (issue 7:
# it does within seconds at c >= 8), so that later runs measure it again
run_pebble() {
    local d=$T/pebble
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
        pebble -config "$d/pebble-config.json" \
        -dnsserver "127.0.0.1:$CTS_DNS" >> "$d/pebble.log" 2>&1 &
    PEBBLE_PID=$!
    PEBBLE_DIR="https://127.0.0.1:$PEBBLE_PORT/dir"
    PEBBLE_CA=$d/minica.pem
    stk_wait 20 pebble curl -sf --cacert "$PEBBLE_CA" -o /dev/null \
        "$PEBBLE_DIR" || { stk_tail "$d/pebble.log"; die "pebble"; }
    PEBBLE_PIDS="$PEBBLE_PID,$CTS_PID"
}

restart_pebble() {
    local i
    log "restarting pebble (pid $PEBBLE_PID) after a stalled run"
    kill "$PEBBLE_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$PEBBLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$PEBBLE_PID" 2>/dev/null || true
    wait "$PEBBLE_PID" 2>/dev/null || true
    run_pebble
}

# a bare nginx, same worker count and TLS set-up as the stack's, with
# `return 204` and a fake directory so acme-bench measures it too
start_ngx204() {
    local d=$T/ngx204 ports
    mkdir -p "$d/logs" "$d/tmp"
    ports=$(stk_pick_ports 1)
    NGX204_PORT=$ports
    local u="https://127.0.0.1:$NGX204_PORT"
    cat > "$d/nginx.conf" <<EOF
worker_processes 2;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 1024; }
http {
    # logged like the stack's nginx (conf/nginx.conf.in), to compare
    access_log $d/logs/access.log;
    client_body_temp_path $d/tmp;
    server {
        listen 127.0.0.1:$NGX204_PORT ssl;
        ssl_certificate $ACME_STACK_DIR/tls/server.pem;
        ssl_certificate_key $ACME_STACK_DIR/tls/server.key;
        location = /directory {
            default_type application/json;
            return 200 '{"newNonce":"$u/nonce",
                "newAccount":"$u/x","newOrder":"$u/x"}';
        }
        location / { return 204; }
    }
}
EOF
    "$NGINX_BIN" -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" \
        > "$d/start.log" 2>&1 || { cat "$d/start.log" >&2; die "nginx 204"; }
    NGX204_STARTED=1
    NGX204_DIR="https://127.0.0.1:$NGX204_PORT/directory"
    stk_wait 10 "nginx 204" curl -sf --cacert "$ACME_TLS_CA_BUNDLE" \
        -o /dev/null "$NGX204_DIR" || die "nginx 204 not answering"
}

# --- runs -------------------------------------------------------------------

# run_one TARGET MODE CONC REP
run_one() {
    local target=$1 mode=$2 c=$3 rep=$4 dir ca pids dur threads extra=()
    case $target in
        ours)   dir=$ACME_DIRECTORY_URL; ca=$ACME_TLS_CA_BUNDLE
                pids=$OURS_PIDS ;;
        pebble) dir=$PEBBLE_DIR; ca=$PEBBLE_CA; pids=$PEBBLE_PIDS ;;
        nginx)  dir=$NGX204_DIR; ca=$ACME_TLS_CA_BUNDLE
                pids=$(head -n1 "$T/ngx204/nginx.pid") ;;
    esac
    dur=$DURATION
    case $mode in
        issue)      dur=$ISSUE_DURATION ;;
        issue-nora) dur=$ISSUE_DURATION; extra=(--ignore-retry-after) ;;
    esac
    threads=1
    [ "$c" -ge 8 ] && threads=2
    printf '%-7s %-10s c=%-3s ' "$target" "$mode" "$c" >&2
    local before after rc
    before=$(wc -l < "$T/runs.jsonl")
    set +e
    timeout $((dur + STALL + 120)) "$BENCH" --directory "$dir" \
        --cacert "$ca" --mode "${mode%-nora}" --concurrency "$c" \
        --threads "$threads" --duration "$dur" --stall "$STALL" \
        --http01-listen "127.0.0.1:$HTTP01PORT" --pids "$pids" \
        --label "$target" --json "$T/runs.jsonl" "${extra[@]}" \
        > "$T/run.out" 2> "$T/run.err"
    rc=$?
    set -e
    cat "$T/run.out" "$T/run.err" >> "$T/runs.log"
    after=$(wc -l < "$T/runs.jsonl")
    if [ "$after" = "$before" ]; then
        # killed or failed before reporting: record that
        printf '{"label":"%s","mode":"%s","concurrency":%d,"ops":0,' \
            "$target" "${mode%-nora}" "$c" >> "$T/runs.jsonl"
        printf '"ops_per_s":0,"errors":0,"stalled":true,"exit":%d}\n' \
            "$rc" >> "$T/runs.jsonl"
    fi
    # tag the variant and repetition
    python3 - "$T/runs.jsonl" "$mode" "$rep" "$rc" <<'EOF'
import json, sys
path, mode, rep = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(path).read().splitlines()
r = json.loads(lines[-1]); r["variant"] = mode; r["rep"] = rep
r["exit"] = int(sys.argv[4])
lines[-1] = json.dumps(r)
open(path, "w").write("\n".join(lines) + "\n")
EOF
    if [ "$target" = pebble ] && [ $rc = 3 ]; then
        STALLED_PEBBLE=1
    fi
    python3 - "$T/runs.jsonl" <<'EOF' >&2
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
s = r.get("server", {})
t = r.get("latency_ms", {}).get("total", {})
print("%9.1f ops/s  p99 %8.1f ms  cpu %7.3f ms/op  err %d%s" % (
    r.get("ops_per_s", 0), t.get("p99", 0), s.get("cpu_ms_per_op", 0),
    r.get("errors", 0), "  STALLED" if r.get("stalled") else ""))
EOF
}

# run_pair MODE CONC REP: ours and pebble, alternating who goes first
run_pair() {
    local mode=$1 c=$2 rep=$3
    STALLED_PEBBLE=0
    if (( (rep + c) % 2 )); then
        run_one ours "$mode" "$c" "$rep"
        run_one pebble "$mode" "$c" "$rep"
    else
        run_one pebble "$mode" "$c" "$rep"
        run_one ours "$mode" "$c" "$rep"
    fi
    [ "$STALLED_PEBBLE" = 1 ] && restart_pebble
    return 0
}

run_wrk() {
    local name=$1 url=$2 c=$3
    printf '%-30s c=%-3s ' "wrk $name" "$c" >&2
    wrk -t2 -c"$c" -d"${DURATION}s" --latency "$url" > "$T/wrk.out" 2>&1 \
        || true
    python3 - "$T/wrk.out" "$name" "$c" "$T/wrk.jsonl" <<'EOF' >&2
import json, re, sys
out, name, dst = open(sys.argv[1]).read(), sys.argv[2], sys.argv[4]
c = int(sys.argv[3])
m = re.search(r"Requests/sec:\s+([\d.]+)", out)
rps = float(m.group(1)) if m else 0.0
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
p99ms = 0.0
if p99:
    p99ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)]
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
json.dump({"name": name, "concurrency": c, "rps": rps, "p99_ms": p99ms,
           "non2xx": int(non2xx.group(1)) if non2xx else 0},
          open(dst, "a")); open(dst, "a").write("\n")
print("%9.1f req/s  p99 %6.2f ms" % (rps, p99ms))
EOF
}

main() {
    need_pkgs
    [ -x "$BENCH" ] || make -C "$REPO" -s all build/acme-bench
    make -C "$REPO" -s all build/acme-bench

    T=$(mktemp -d /tmp/acme-bench.XXXXXX)
    chmod 0711 "$T"
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    start_stack
    start_pebble
    start_ngx204
    : > "$T/runs.jsonl"
    : > "$T/wrk.jsonl"

    log "HTTP ceiling (wrk -t2, HTTPS keep-alive, ${DURATION}s)"
    run_wrk "nginx return 204" "https://127.0.0.1:$NGX204_PORT/" 8
    run_wrk "ours newNonce (GET)" \
        "https://127.0.0.1:$ACMEPORT/acme/new-nonce" 8
    run_wrk "pebble newNonce (GET)" \
        "https://127.0.0.1:$PEBBLE_PORT/nonce-plz" 8

    local mode c rep cs
    log "acme-bench runs (${DURATION}s, issue ${ISSUE_DURATION}s," \
        "stall ${STALL}s, $REPS repetition(s))"
    for mode in $MODES; do
        cs=$CONC
        case $mode in issue*) cs=$ISSUE_CONC ;; esac
        for c in $cs; do
            for ((rep = 1; rep <= REPS; rep++)); do
                run_pair "$mode" "$c" "$rep"
                case $mode in
                    nonce|directory) run_one nginx "$mode" "$c" "$rep" ;;
                esac
            done
        done
    done

    # the stack's nginx must have logged no alert or crash meanwhile
    grep -E '\[(alert|emerg)\]|worker process .* exited on signal' \
        "$NGINX_ERROR_LOG" > "$T/alerts.log" || true

    python3 "$REPO/bench/report.py" "$T/runs.jsonl" "$T/wrk.jsonl" \
        "$T/alerts.log" "$OUT"
    cp "$T/runs.log" "${OUT%.json}.log"
}

main "$@"
