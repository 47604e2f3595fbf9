#!/bin/bash
# t/sanitize/run.sh MODULE.so PRELOAD.so: the protocol suite (t/protocol)
# against a private stack whose nginx loads MODULE.so (an ASan + UBSan
# build, see t/sanitize/sanitize.mk) and whose validator runs under
# valgrind memcheck.  PRELOAD.so is t/sanitize/ubsan_options.c, preloaded
# after libasan so that UBSan keeps its options in the workers.
# Fails when ASan or UBSan wrote any report (a file in san/ or lines in
# nginx's error log: UBSan always writes to the workers' stderr, which is
# the error log, and so does ASan after a UBSan report), when valgrind
# counted an error
# or a definite leak, when valgrind did not write its summary (the validator
# did not exit on SIGTERM), or when the suite failed.
#
# Layout of the temporary directory (kept on failure or ACME_TEST_KEEP=1):
#   stack/          the stack (ACME_STACK_DIR)
#   san/            ASan/UBSan log_path (nginx master and workers; 1777,
#                   the workers run as nobody): report.PID, must not exist
#   valgrind.PID.log
# PYTEST_ARGS adds pytest options.
set -uo pipefail

. "$(dirname "$0")/../../scripts/lib-stack.sh"
cd "$ACME_REPO" || exit 1

[ $# = 2 ] || { echo "usage: $0 MODULE.so PRELOAD.so" >&2; exit 2; }
MOD=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
PRELOAD=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ -f "$MOD" ] || { echo "sanitize: $MOD missing" >&2; exit 1; }
[ -f "$PRELOAD" ] || { echo "sanitize: $PRELOAD missing" >&2; exit 1; }
STEP_TIMEOUT=${ACME_TEST_STEP_TIMEOUT:-900}

libasan=$(gcc -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "sanitize: libasan.so not found" >&2; exit 1; }

TOP=$(mktemp -d /tmp/acme-sanitize.XXXXXX) || exit 1
chmod 0711 "$TOP"              # postgres and nobody traverse it
mkdir -p "$TOP/stack" "$TOP/san"
chmod 1777 "$TOP/san"
export ACME_STACK_DIR=$TOP/stack
export ACME_STACK_ENV=$TOP/stack/env
export ACME_MODULE_SO=$MOD
# /usr/sbin/nginx is not built with ASan: the runtime must come first.
# detect_leaks=0: nginx does not free everything at exit (pools, cycle).
export ACME_NGINX_ENV="LD_PRELOAD=$libasan:$PRELOAD
ASAN_OPTIONS=log_path=$TOP/san/report:detect_leaks=0
UBSAN_OPTIONS=print_stacktrace=1:log_path=$TOP/san/report"
export ACME_VALIDATOR_WRAPPER="valgrind --tool=memcheck --leak-check=full
--errors-for-leak-kinds=definite --show-leak-kinds=definite
--error-exitcode=99 --num-callers=30 --log-file=$TOP/valgrind.%p.log"

t0=$SECONDS
fail=()
stack_up=0
stack_ready=0
passed=

finish() {
    trap - EXIT INT TERM
    if [ $stack_up = 1 ]; then
        echo "== stopping the stack (the validator's SIGTERM ends valgrind)"
        "$ACME_REPO/scripts/stack.sh" down || fail+=("stack down")
    fi
    check_reports
    local secs=$((SECONDS - t0))
    if [ ${#fail[@]} = 0 ]; then
        [ "${ACME_TEST_KEEP:-0}" = 1 ] && echo "sanitize: kept $TOP" \
            || rm -rf "$TOP"
        echo "test-sanitize-stack: protocol ${passed:-?}," \
             "ASan/UBSan reports 0 (nginx module)," \
             "valgrind errors 0, definite leaks 0 (validator), ${secs}s"
        exit 0
    fi
    [ $stack_up = 1 ] && stk_dump_logs "$TOP/stack"
    echo "sanitize: files kept in $TOP"
    local msg
    msg=$(printf '%s; ' "${fail[@]}")
    echo "test-sanitize-stack: FAILED: ${msg%; } (${secs}s)"
    exit 1
}

SAN_PATTERN='runtime error:|ERROR: [A-Za-z]+Sanitizer'

check_reports() {
    local f n vlogs=() elog=$TOP/stack/nginx/logs/error.log
    shopt -s nullglob
    local san=("$TOP"/san/*)
    vlogs=("$TOP"/valgrind.*.log)
    shopt -u nullglob
    if [ ${#san[@]} -gt 0 ]; then
        for f in "${san[@]}"; do
            echo "===== $f"
            head -n 80 "$f"
        done
        fail+=("${#san[@]} ASan/UBSan report file(s) in $TOP/san")
    fi
    n=$(grep -Ec "$SAN_PATTERN" "$elog" 2>/dev/null)
    if [ "${n:-0}" -gt 0 ]; then
        echo "===== sanitizer reports in $elog"
        grep -E -A 24 "$SAN_PATTERN" "$elog" | head -n 150
        fail+=("$n ASan/UBSan report(s) in $elog")
    fi
    if [ $stack_ready = 1 ] && [ ${#vlogs[@]} = 0 ]; then
        fail+=("no valgrind log")
    fi
    for f in "${vlogs[@]}"; do
        if ! grep -q 'ERROR SUMMARY:' "$f"; then
            echo "===== $f"
            tail -n 40 "$f"
            fail+=("valgrind wrote no summary (validator killed?)")
            continue
        fi
        n=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$f" \
            | tail -n1 | tr -d ,)
        if [ "${n:-1}" != 0 ]; then
            echo "===== $f"
            cat "$f"
            fail+=("valgrind: $n error(s) or definite leak(s)")
        fi
    done
}

trap finish EXIT
trap 'fail+=("interrupted"); exit 130' INT TERM

echo "== stack with $MOD (ASan + UBSan) and the validator under valgrind"
stack_up=1
if ! "$ACME_REPO/scripts/stack.sh" up; then
    fail+=("stack up")
    exit 1
fi
stack_ready=1

# the sanitizers must really be in the workers, with the ASan module
pid=$(head -n1 "$TOP/stack/nginx/logs/nginx.pid")
workers=$(pgrep -P "$pid")
[ -n "$workers" ] || { fail+=("no nginx workers"); exit 1; }
for w in $workers; do
    if ! grep -q libasan "/proc/$w/maps" \
       || ! grep -qF "$MOD" "/proc/$w/maps"
    then
        fail+=("nginx worker $w has no libasan or not $MOD mapped")
        exit 1
    fi
done
echo "sanitize: libasan and $MOD mapped in nginx workers" $workers

echo "== protocol tests (pytest t/protocol)"
out=$TOP/pytest.out
# shellcheck disable=SC2086
timeout "$STEP_TIMEOUT" env -u REQUESTS_CA_BUNDLE -u PYTHONPATH \
    PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -q \
    -p no:cacheprovider ${PYTEST_ARGS:-} t/protocol 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
passed=$(grep -Eo '[0-9]+ passed' "$out" | tail -n1)
[ "$rc" = 0 ] || fail+=("pytest t/protocol exit $rc")
exit 0
