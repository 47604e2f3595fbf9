#!/bin/bash
# t/fuzz/run.sh: runs the libFuzzer targets (make fuzz, make fuzz-smoke).
#
#   t/fuzz/run.sh SECONDS TARGET...    fuzz each TARGET for SECONDS
#   t/fuzz/run.sh crashers TARGET...   replay t/fuzz/crashers/fuzz_TARGET/*
#
# A target reads its seeds from t/fuzz/corpus/fuzz_TARGET (never written)
# and keeps what it finds in build/fuzz/corpus/fuzz_TARGET; a crash, leak,
# timeout or invariant failure is saved under build/fuzz/artifacts/
# fuzz_TARGET/, the log under build/fuzz/logs/. One summary line per
# target; exits non-zero when any target failed. Crashers are replayed
# with FUZZ_STRICT=1, which also fails on the known bugs that a default
# run tolerates (t/fuzz/crashers/README).
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 2

B=${B:-build}
mode=$1
shift

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
total=0
lines=()

for t in "$@"; do
    bin=$B/fuzz/fuzz_$t
    log=$B/fuzz/logs/fuzz_$t.log
    mkdir -p "$B/fuzz/corpus/fuzz_$t" "$B/fuzz/artifacts/fuzz_$t" "$B/fuzz/logs"

    if [ "$mode" = crashers ]; then
        shopt -s nullglob
        files=(t/fuzz/crashers/fuzz_"$t"/*)
        shopt -u nullglob
        if [ ${#files[@]} = 0 ]; then
            lines+=("$(printf 'fuzz_%-8s none' "$t")")
            continue
        fi
        if FUZZ_STRICT=1 timeout 300 "$bin" -runs=1 "${files[@]}" \
               > "$log" 2>&1
        then
            lines+=("$(printf 'fuzz_%-8s ok: %d crasher(s) pass now' \
                       "$t" ${#files[@]})")
        else
            lines+=("$(printf 'fuzz_%-8s FAIL: a crasher still fails (%s)' \
                       "$t" "$log")")
            failed=$((failed + 1))
        fi
        continue
    fi

    dict=()
    [ -f "t/fuzz/fuzz_$t.dict" ] && dict=(-dict="t/fuzz/fuzz_$t.dict")

    echo "-- fuzz_$t: ${mode}s"
    # the timeout is a backstop: -max_total_time ends the run
    timeout $((mode + 120)) "$bin" -max_total_time="$mode" \
        -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -artifact_prefix="$B/fuzz/artifacts/fuzz_$t/" \
        "${dict[@]}" "$B/fuzz/corpus/fuzz_$t" "t/fuzz/corpus/fuzz_$t" \
        > "$log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    units=$(find "$B/fuzz/corpus/fuzz_$t" -type f | wc -l)
    total=$((total + ${execs:-0}))

    if [ $rc = 0 ]; then
        lines+=("$(printf 'fuzz_%-8s ok: %s execs, cov %s, %s new units' \
                   "$t" "${execs:-?}" "${cov:-?}" "$units")")
    else
        failed=$((failed + 1))
        art=$(grep -o "$B/fuzz/artifacts/fuzz_$t/[^ ]*" "$log" | tail -1)
        lines+=("$(printf 'fuzz_%-8s FAIL (exit %s): %s, log %s' \
                   "$t" "$rc" "${art:-no artifact}" "$log")")
        grep -E '^(==[0-9]+==ERROR|SUMMARY)|invariant failed|runtime error' \
            "$log" | head -5
    fi
done

echo
for l in "${lines[@]}"; do
    echo "$l"
done

if [ "$mode" != crashers ]; then
    echo "fuzz: $# target(s), $total execs, $failed failed"
fi
[ $failed = 0 ]
