#!/bin/bash
# scripts/test.sh: everything CI runs (make test builds first).
#   1. unit tests: every build/t/test_* binary, then again built with
#      ASan + UBSan (make test-sanitize) and under valgrind (make
#      test-valgrind), and each fuzz target for ACME_TEST_FUZZ_SECONDS
#      (default 12; 0 skips) (make fuzz-smoke, t/fuzz/fuzz.mk)
#   2. a private stack in a temporary directory (stopped on exit)
#   3. protocol tests: /usr/bin/python3 -m pytest -q t/protocol, then
#      the acme-server-admin tests: the same with t/admin
#   4. interop tests: t/interop/*.sh against the same stack
#   5. nginx -t on every conf/examples/*.conf
#   5b. make test-sanitize-stack: t/protocol against an ASan+UBSan module
#      and a validator under valgrind, in a stack of its own
#   6. scripts/check-style.sh
# Exits non-zero when any step failed; prints a summary at the end.
# ACME_TEST_KEEP=1 keeps the temporary directory. PYTEST_ARGS adds pytest
# options (e.g. PYTEST_ARGS="-k nonce -x").
set -uo pipefail

. "$(dirname "$0")/lib-stack.sh"
cd "$ACME_REPO" || exit 1

STEP_TIMEOUT=${ACME_TEST_STEP_TIMEOUT:-600}
summary=()
failures=0
DIR=
stack_up=0

result() {       # result NAME STATUS [DETAIL]
    summary+=("$(printf '%-34s %s' "$1" "$2${3:+ ($3)}")")
    [ "$2" = FAIL ] && failures=$((failures + 1))
    return 0
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ $stack_up = 1 ]; then
        echo
        echo "== stopping the stack"
        "$ACME_REPO/scripts/stack.sh" down || true
    fi
    if [ -n "$DIR" ] && [ -d "$DIR" ]; then
        if [ $failures = 0 ] && [ "${ACME_TEST_KEEP:-0}" != 1 ]; then
            rm -rf "$DIR"
        else
            echo "test: stack files kept in $DIR"
        fi
    fi
    echo
    echo "==================== summary ===================="
    local l
    for l in "${summary[@]}"; do
        echo "$l"
    done
    echo "================================================="
    if [ $failures = 0 ] && [ $rc = 0 ]; then
        echo "test: all passed"
        exit 0
    fi
    echo "test: $failures step(s) FAILED"
    exit 1
}
trap finish EXIT
trap 'echo "test: interrupted"; failures=$((failures + 1)); exit 130' \
    INT TERM

# --- 1. unit tests ---------------------------------------------------------

echo "== unit tests"
shopt -s nullglob
units=(build/t/test_*)
shopt -u nullglob
if [ ${#units[@]} = 0 ]; then
    result "unit tests" SKIP "no build/t/test_* binaries"
else
    for t in "${units[@]}"; do
        [ -x "$t" ] || continue
        echo "-- $t"
        if timeout "$STEP_TIMEOUT" "$t"; then
            result "unit $(basename "$t")" ok
        else
            result "unit $(basename "$t")" FAIL "exit $?"
        fi
    done
fi

# sanitizers and fuzzing (t/fuzz/fuzz.mk): about 2.5 minutes on 2 cores
make_step() {    # make_step NAME SUMMARY-PATTERN MAKE-ARGS...
    local name=$1 pat=$2 out rc
    shift 2
    echo
    echo "== $name"
    out=$(mktemp)
    timeout "$STEP_TIMEOUT" make --no-print-directory "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    if [ "$rc" = 0 ]; then
        result "$name" ok "$(grep -E "$pat" "$out" | tail -n1)"
    else
        result "$name" FAIL "exit $rc"
    fi
    rm -f "$out"
}

make_step "unit (ASan+UBSan)" '^test-sanitize:' -s test-sanitize
make_step "unit (valgrind)" '^test-valgrind:' -s test-valgrind
fuzz_secs=${ACME_TEST_FUZZ_SECONDS:-12}
if [ "$fuzz_secs" -gt 0 ]; then
    make_step "fuzz smoke (${fuzz_secs}s/target)" '^fuzz:' -s fuzz-smoke \
        FUZZ_SMOKE_SECONDS="$fuzz_secs"
else
    result "fuzz smoke" SKIP "ACME_TEST_FUZZ_SECONDS=0"
fi

# --- 2. the stack ----------------------------------------------------------

echo
echo "== starting a stack"
DIR=$(mktemp -d /tmp/acme-test.XXXXXX) || exit 1
export ACME_STACK_DIR=$DIR
export ACME_STACK_ENV=$DIR/env
stack_up=1
if "$ACME_REPO/scripts/stack.sh" up; then
    result "stack up" ok
    stack_ok=1
else
    result "stack up" FAIL
    stack_ok=0
fi

# --- 3. protocol tests -----------------------------------------------------

echo
echo "== protocol tests (pytest)"
if [ $stack_ok = 1 ]; then
    # shellcheck disable=SC2086
    if timeout "$STEP_TIMEOUT" env -u REQUESTS_CA_BUNDLE \
           -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
           /usr/bin/python3 -m pytest -q -p no:cacheprovider \
           ${PYTEST_ARGS:-} t/protocol
    then
        result "protocol (pytest t/protocol)" ok
    else
        result "protocol (pytest t/protocol)" FAIL
    fi
else
    result "protocol (pytest t/protocol)" FAIL "no stack"
fi

echo
echo "== acme-server-admin tests (pytest)"
if [ $stack_ok = 1 ]; then
    # shellcheck disable=SC2086
    if timeout "$STEP_TIMEOUT" env -u REQUESTS_CA_BUNDLE \
           -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
           /usr/bin/python3 -m pytest -q -p no:cacheprovider \
           ${PYTEST_ARGS:-} t/admin
    then
        result "admin (pytest t/admin)" ok
    else
        result "admin (pytest t/admin)" FAIL
    fi
else
    result "admin (pytest t/admin)" FAIL "no stack"
fi

# the validator's own black-box tests: its own Redis and validator process
# against the stack's PostgreSQL and knot (t/validator/conftest.py)
echo
echo "== validator tests (pytest)"
if [ $stack_ok = 1 ]; then
    if timeout "$STEP_TIMEOUT" env -u REQUESTS_CA_BUNDLE \
           -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
           /usr/bin/python3 -m pytest -q -p no:cacheprovider t/validator
    then
        result "validator (pytest t/validator)" ok
    else
        result "validator (pytest t/validator)" FAIL
    fi
else
    result "validator (pytest t/validator)" FAIL "no stack"
fi

# nginx -s reload under load, invalid configs, rate limits changed by a
# reload: rewrites the stack's nginx.conf and puts it back (t/reload)
echo
echo "== reload tests (pytest)"
if [ $stack_ok = 1 ]; then
    if timeout "$STEP_TIMEOUT" env -u REQUESTS_CA_BUNDLE \
           -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
           /usr/bin/python3 -m pytest -q -p no:cacheprovider t/reload
    then
        result "reload (pytest t/reload)" ok
    else
        result "reload (pytest t/reload)" FAIL
    fi
else
    result "reload (pytest t/reload)" FAIL "no stack"
fi

# --- 4. interop ------------------------------------------------------------

echo
echo "== interop tests"
shopt -s nullglob
interop=(t/interop/*.sh)
shopt -u nullglob
for t in "${interop[@]}"; do
    # lib.sh holds the scripts' shared helpers, it is not a test
    [ "$(basename "$t")" = lib.sh ] && continue
    name="interop $(basename "$t" .sh)"
    if [ $stack_ok != 1 ]; then
        result "$name" FAIL "no stack"
        continue
    fi
    echo "-- $t"
    out=$(mktemp)
    timeout "$STEP_TIMEOUT" bash "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)
    rm -f "$out"
    if [ "$rc" = 0 ]; then
        result "$name" ok "$counts"
    else
        result "$name" FAIL "${counts:-exit $rc}"
    fi
done
[ ${#interop[@]} = 0 ] && result "interop" SKIP "no t/interop/*.sh"

if [ $stack_ok != 1 ] || [ $failures -gt 0 ]; then
    stk_dump_logs "$DIR"
fi

# --- 5. example configurations -------------------------------------------

echo
echo "== nginx -t on conf/examples/*.conf"

# example_test FILE: nginx -t on a copy of FILE in which the paths of this
# machine are replaced by the running stack's (module, CA, token, keys,
# database, Redis, logs), so that the check covers syntax and directives.
example_test() {
    local f=$1 t conf
    t=$(mktemp -d /tmp/acme-example.XXXXXX)
    mkdir -p "$t/conf" "$t/logs" "$t/tmp"
    cp /etc/nginx/mime.types "$t/conf/" 2>/dev/null || true
    cp -r /etc/nginx/snippets "$t/conf/" 2>/dev/null || true
    cp /etc/nginx/fastcgi_params /etc/nginx/proxy_params "$t/conf/" \
        2>/dev/null || true
    conf="$t/conf/$(basename "$f")"
    local mod="$ACME_REPO/build/nginx/ngx_http_acme_server_module.so"
    sed -E \
        -e "s|^([[:space:]]*load_module[[:space:]]+)[^;]*ngx_http_acme_server_module\.so;|\1$mod;|" \
        -e "s|^([[:space:]]*pid[[:space:]]+)[^;]*;|\1$t/nginx.pid;|" \
        -e "s|^([[:space:]]*error_log[[:space:]]+)[^ ;]+|\1$t/logs/error.log|" \
        -e "s|^([[:space:]]*access_log[[:space:]]+)(/[^ ;]+)|\1$t/logs/access.log|" \
        -e "s|^([[:space:]]*acme_server_database[[:space:]]+)[^;]*;|\1\"$ACME_DB_CONNINFO\";|" \
        -e "s|^([[:space:]]*acme_server_redis[[:space:]]+)[^;]*;|\1$ACME_REDIS;|" \
        -e "s|^([[:space:]]*acme_server_ca_certificate[[:space:]]+)[^;]*;|\1$ACME_CA_CERT;|" \
        -e "s|^([[:space:]]*acme_server_pkcs11_module[[:space:]]+)[^;]*;|\1$ACME_PKCS11_MODULE;|" \
        -e "s|^([[:space:]]*acme_server_pkcs11_pin_file[[:space:]]+)[^;]*;|\1$ACME_PIN_FILE;|" \
        -e "s|^([[:space:]]*acme_server_nonce_key_file[[:space:]]+)[^;]*;|\1$ACME_NONCE_KEY_FILE;|" \
        -e "s|^([[:space:]]*ssl_certificate[[:space:]]+)[^;]*;|\1$DIR/tls/server.pem;|" \
        -e "s|^([[:space:]]*ssl_certificate_key[[:space:]]+)[^;]*;|\1$DIR/tls/server.key;|" \
        -e "s|^([[:space:]]*ssl_trusted_certificate[[:space:]]+)[^;]*;|\1$DIR/tls/minica.pem;|" \
        "$f" > "$conf"
    if ! grep -q 'ngx_http_acme_server_module\.so' "$conf"; then
        sed -i "1i load_module $mod;" "$conf"
    fi
    if SOFTHSM2_CONF="$SOFTHSM2_CONF" timeout 60 "$NGINX_BIN" -p "$t" \
           -c "$conf" -e "$t/logs/error.log" -t > "$t/nginx-t.out" 2>&1
    then
        rm -rf "$t"
        return 0
    fi
    cat "$t/nginx-t.out"
    echo "(substituted copy kept: $conf)"
    return 1
}

shopt -s nullglob
examples=(conf/examples/*.conf)
shopt -u nullglob
if [ ${#examples[@]} = 0 ]; then
    result "examples (nginx -t)" SKIP "no conf/examples/*.conf"
elif [ $stack_ok != 1 ]; then
    result "examples (nginx -t)" FAIL "no stack"
else
    stk_load_env "$DIR"
    for f in "${examples[@]}"; do
        echo "-- $f"
        if example_test "$f"; then
            result "example $(basename "$f")" ok
        else
            result "example $(basename "$f")" FAIL
        fi
    done
fi

# --- 5a. make install into a staging directory: the files where the
# examples and the systemd unit look for them, and they run from there

echo
echo "== install (DESTDIR)"
inst=$(mktemp -d)
if make --no-print-directory -s install DESTDIR="$inst" > "$inst.log" 2>&1 \
   && [ -f "$inst/usr/lib/nginx/modules/ngx_http_acme_server_module.so" ] \
   && [ -f "$inst/usr/share/nginx-acme-server/sql/0001_create_core.sql" ] \
   && [ -f "$inst/lib/systemd/system/acme-validator.service" ] \
   && "$inst/usr/sbin/acme-server-admin" --help > /dev/null 2>&1 \
   && "$inst/usr/sbin/acme-validator" -t -c \
       "$inst/usr/share/doc/nginx-acme-server/validator.conf.example" \
       >> "$inst.log" 2>&1
then
    result "install (DESTDIR)" ok "$(find "$inst" -type f | wc -l) files"
else
    cat "$inst.log"
    result "install (DESTDIR)" FAIL
fi
rm -rf "$inst" "$inst.log"

# --- 5b. the protocol suite against an ASan+UBSan build of the module,
# with the validator under valgrind (its own stack; t/sanitize, ~1 min)

make_step "protocol (ASan+UBSan module, valgrind validator)" \
    '^test-sanitize-stack:' -s test-sanitize-stack

# --- 6. style --------------------------------------------------------------

echo
echo "== check-style"
if "$ACME_REPO/scripts/check-style.sh"; then
    result "check-style" ok
else
    result "check-style" FAIL
fi
