#!/bin/bash
# scripts/check-style.sh: the mechanical part of STYLE.md section 3.
#  1. git diff --check of every tracked file (diff against the empty tree):
#     trailing blanks, space before tab, conflict markers, blank line at EOF.
#  2. C sources (src/ validator/ tools/ t/unit/ and the module entry, tracked
#     or new): at most 80 columns, no tabs. Reported as file:line.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
fail=0

empty_tree=$(git hash-object -t tree /dev/null)
if ! out=$(git -c core.whitespace=blank-at-eol,space-before-tab,blank-at-eof \
           diff --check "$empty_tree" -- 2>&1)
then
    echo "check-style: git diff --check:"
    printf '%s\n' "$out"
    fail=1
fi

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
    'src/*.c' 'src/*.h' 'validator/*.c' 'validator/*.h' \
    'tools/*.c' 'tools/*.h' 't/unit/*.c' 't/unit/*.h' \
    ngx_http_acme_server_module.c | sort -u)

long=0
tabs=0
for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    # grep counts characters (not bytes) in a UTF-8 locale
    if r=$(LC_ALL=C.UTF-8 grep -n '.\{81,\}' "$f"); then
        while IFS= read -r l; do
            n=${l%%:*}
            text=${l#*:}
            echo "$f:$n: line longer than 80 columns (${#text})"
            long=$((long + 1))
        done <<< "$r"
    fi
    if r=$(grep -n "$(printf '\t')" "$f"); then
        while IFS= read -r l; do
            echo "$f:${l%%:*}: tab character"
            tabs=$((tabs + 1))
        done <<< "$r"
    fi
done

[ $long -gt 0 ] && fail=1
[ $tabs -gt 0 ] && fail=1

if [ $fail = 0 ]; then
    echo "check-style: ok (${#files[@]} C files, git diff --check clean)"
else
    echo "check-style: FAILED ($long long lines, $tabs tabs)"
fi
exit $fail
