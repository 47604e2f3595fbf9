#!/bin/bash
# t/faults/run.sh: make test-faults. Starts a private stack in
# /tmp/faultstack-$$ (scripts/stack.sh up), tunes it for the faults
# (validator: reclaim_idle 13 s, timeout 2 s; nginx: a second access log
# with each request's X-Fault-Req id, pid and status), runs
# t/faults/faults.py (fault injection under load, bounded by
# FAULTS_TIMEOUT, default 540 s) and stops the stack, whatever happens.
# The stack directory is removed when everything passed, else kept for
# its logs (FAULTS_KEEP=1 always keeps it). FAULTS_ARGS adds options to
# faults.py (e.g. FAULTS_ARGS="--only 1,3 --workers 4").
set -uo pipefail

. "$(dirname "$0")/../../scripts/lib-stack.sh"
cd "$ACME_REPO" || exit 1

DIR=/tmp/faultstack-$$
export ACME_STACK_DIR=$DIR
TIMEOUT=${FAULTS_TIMEOUT:-540}
rc=1
stack_up=0

finish() {
    trap - EXIT INT TERM
    if [ $stack_up = 1 ]; then
        echo "== stopping the stack in $DIR"
        scripts/stack.sh down || rc=1
    fi
    if [ $rc = 0 ] && [ "${FAULTS_KEEP:-0}" != 1 ]; then
        rm -rf "$DIR"
    elif [ -d "$DIR" ]; then
        echo "faults: stack files kept in $DIR"
    fi
    if [ $rc = 0 ]; then
        echo "test-faults: passed"
    else
        echo "test-faults: FAILED"
    fi
    exit $rc
}
trap finish EXIT
trap 'echo "faults: interrupted"; rc=130; exit 130' INT TERM

for f in build/acme-validator build/acme-server-admin \
         build/nginx/ngx_http_acme_server_module.so; do
    [ -e "$f" ] || { echo "faults: $f missing (make all)"; exit 1; }
done

echo "== stack in $DIR"
stack_up=1
if ! timeout 120 scripts/stack.sh up > "/tmp/faultstack-$$.up.log" 2>&1
then
    cat "/tmp/faultstack-$$.up.log"
    exit 1
fi
mv "/tmp/faultstack-$$.up.log" "$DIR/stack-up.log"
stk_load_env "$DIR"

# validator: reclaim stale jobs every 7 s (13 s idle), keep each check's
# worst case (timeout x 6 steps) below reclaim_idle
sed -i -e '/^timeout = /d' -e '/^reclaim_idle = /d' "$VALIDATOR_CONF"
printf 'timeout = 2\nreclaim_idle = 13\n' >> "$VALIDATOR_CONF"
t/faults/svc.sh "$DIR" validator-stop || exit 1
t/faults/svc.sh "$DIR" validator-start || exit 1

# nginx: which request ids it answered (for "no request lost")
sed -i 's|^\(\s*\)access_log logs/access.log;|&\n\1log_format faults '"'"'$http_x_fault_req $status $pid $request_time'"'"';\n\1access_log logs/faults.log faults;|' \
    "$NGINX_CONF"
grep -q 'logs/faults.log' "$NGINX_CONF" \
    || { echo "faults: could not add the faults access log"; exit 1; }
t/faults/svc.sh "$DIR" nginx-reload || exit 1

# shellcheck disable=SC2086
timeout -k 10 "$TIMEOUT" /usr/bin/python3 -u t/faults/faults.py \
    "$DIR/env" ${FAULTS_ARGS:-}
rc=$?
[ $rc = 124 ] && echo "faults: timed out after ${TIMEOUT}s"
if [ $rc != 0 ]; then
    stk_dump_logs "$DIR"
fi
