# Shared shell functions for the local test/demo stack.
# Sourced (bash) by scripts/stack.sh, scripts/demo.sh, scripts/test.sh and
# t/interop/*.sh. Defines functions and a few variables only; no side
# effects on sourcing.

ACME_REPO=${ACME_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
# user the nginx workers (and nothing else) run as
ACME_WORKER_USER=${ACME_WORKER_USER:-nobody}
ACME_WORKER_GROUP=${ACME_WORKER_GROUP:-nogroup}

stk_log()  { printf '%s\n' "stack: $*" >&2; }
stk_die()  { printf '%s\n' "stack: error: $*" >&2; exit 1; }

# stk_wait SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; bounded both by count (5 tries per second) and by wall time.
stk_wait() {
    local secs=$1 what=$2 i end
    shift 2
    end=$((SECONDS + secs + 1))
    for ((i = 0; i < secs * 5; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        [ "$SECONDS" -ge "$end" ] && break
        sleep 0.2
    done
    stk_log "timed out after ${secs}s waiting for $what"
    return 1
}

# stk_pid_alive PIDFILE: true when the pid in PIDFILE is a live process
stk_pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(head -n1 "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null
}

# stk_kill_pidfile PIDFILE NAME [SECONDS]: SIGTERM, bounded wait, SIGKILL
stk_kill_pidfile() {
    local pf=$1 name=$2 secs=${3:-10} pid i
    # the daemon may remove its pidfile at any moment: read it once
    pid=$(head -n1 "$pf" 2>/dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    stk_log "$name (pid $pid) ignored SIGTERM for ${secs}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# stk_port_free PORT: nothing listens on PORT (TCP or UDP, any address)
stk_port_free() {
    [ -z "$(ss -Htlnu "sport = :$1" 2>/dev/null)" ]
}

# stk_pick_ports N: prints N distinct free ports from 20000-32767 (below
# Linux's default ephemeral range, so outgoing connections don't take them)
stk_pick_ports() {
    local n=$1 got=() p tries=0 q dup
    while [ ${#got[@]} -lt "$n" ]; do
        tries=$((tries + 1))
        [ $tries -gt 1000 ] && stk_die "could not find $n free ports"
        p=$((20000 + RANDOM % 12768))
        dup=0
        for q in "${got[@]}"; do [ "$q" = "$p" ] && dup=1; done
        [ $dup = 1 ] && continue
        stk_port_free "$p" || continue
        got+=("$p")
    done
    echo "${got[@]}"
}

# stk_load_env DIR: sources DIR/env into the current shell
stk_load_env() {
    [ -f "$1/env" ] || return 1
    # shellcheck disable=SC1090,SC1091
    . "$1/env"
}

# stk_tail FILE [N]: prints the last N lines of FILE under a header
stk_tail() {
    local f=$1 n=${2:-40}
    if [ -f "$f" ]; then
        echo "----- last $n lines of $f -----"
        tail -n "$n" "$f"
        echo "----- end of $f -----"
    else
        echo "----- $f: (no such file) -----"
    fi
}

# stk_dump_logs DIR: the logs worth reading after a failure
stk_dump_logs() {
    local d=$1
    stk_tail "$d/nginx/logs/error.log" 60
    stk_tail "$d/validator.log" 60
}

# stk_certbot OUTDIR NAME DOMAIN...: certbot certonly --standalone (http-01
# on 127.0.0.1:$HTTP01PORT) against the stack whose env is loaded. Config,
# work and logs go under OUTDIR; the certificate ends up in
# OUTDIR/config/live/NAME/. Output goes to OUTDIR/certbot.out.
stk_certbot() {
    local out=$1 name=$2 d args=()
    shift 2
    for d in "$@"; do
        args+=(-d "$d")
    done
    mkdir -p "$out"
    # certbot's own timeouts are long: bound the whole run
    env REQUESTS_CA_BUNDLE="$ACME_TLS_CA_BUNDLE" \
        NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
        timeout 240 certbot certonly --non-interactive --agree-tos \
        --register-unsafely-without-email \
        --server "$ACME_DIRECTORY_URL" \
        --config-dir "$out/config" --work-dir "$out/work" \
        --logs-dir "$out/logs" \
        --standalone --http-01-address 127.0.0.1 \
        --http-01-port "$HTTP01PORT" \
        --cert-name "$name" "${args[@]}" \
        > "$out/certbot.out" 2>&1
}

# stk_certbot_failed OUTDIR: what to read when certbot failed
stk_certbot_failed() {
    stk_tail "$1/certbot.out" 40
    stk_tail "$1/logs/letsencrypt.log" 60
}
