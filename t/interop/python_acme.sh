#!/bin/bash
# t/interop/python_acme.sh: runs t/interop/python_acme.py (python3-acme:
# orders list, key rollover, deactivation) under Debian's /usr/bin/python3,
# bounded in time. Last line of output: "N passed, N failed".
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp /tmp/acme-pyacme-out.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT

timeout 300 env -u REQUESTS_CA_BUNDLE -u PYTHONPATH \
    PYTHONDONTWRITEBYTECODE=1 NO_PROXY=127.0.0.1,localhost \
    no_proxy=127.0.0.1,localhost \
    /usr/bin/python3 "$dir/python_acme.py" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

last=$(tail -n1 "$out")
if [[ ! $last =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]]; then
    # killed or crashed before its summary
    passed=$(grep -c '^ok - ' "$out")
    failed=$(grep -c '^not ok - ' "$out")
    echo "not ok - python_acme.py exited with $rc before its summary"
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
fi
exit "$rc"
