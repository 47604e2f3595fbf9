#!/bin/bash
# Builds build/nginx/ngx_http_acme_server_module.so against Debian's
# nginx-dev (/usr/share/nginx/src), with Debian's own configure flags so
# that the module is binary compatible with /usr/sbin/nginx.
# ACME_MODULE_CFLAGS / ACME_MODULE_LDFLAGS add compiler and linker flags;
# ACME_MODULE_BUILDDIR builds elsewhere (default build/nginx), e.g. the
# ASan + UBSan module of t/sanitize/sanitize.mk in build/nginx-asan.
set -euo pipefail
MOD=$(cd "$(dirname "$0")/.." && pwd)
SRC=/usr/share/nginx/src
OUT=${ACME_MODULE_BUILDDIR:-$MOD/build/nginx}
if [ ! -f "$SRC/conf_flags" ]; then
    echo "build-module: $SRC/conf_flags missing: apt-get install nginx-dev" >&2
    exit 1
fi
mkdir -p "$OUT"
# configure again when config, the list of sources or the flags changed
stamp="$OUT/.configured"
want=$( (cat "$MOD/config"; ls "$MOD"/src/*/*.[ch] "$MOD"/src/*.[ch]
         flags="${ACME_MODULE_CFLAGS:-}${ACME_MODULE_LDFLAGS:-}"
         [ -z "$flags" ] \
             || echo "${ACME_MODULE_CFLAGS:-}|${ACME_MODULE_LDFLAGS:-}") \
        | sha256sum | cut -c1-16)
if [ ! -f "$OUT/Makefile" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]
then
    cd "$SRC"
    . ./conf_flags
    ./configure \
        --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS) -D_GNU_SOURCE ${ACME_MODULE_CFLAGS:-}" \
        --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC ${ACME_MODULE_LDFLAGS:-}" \
        "${NGX_CONF_FLAGS[@]}" \
        --add-dynamic-module="$MOD" --builddir="$OUT" \
        > "$OUT/configure.log" 2>&1 \
        || { tail -20 "$OUT/configure.log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi
make -s -f "$OUT/Makefile" -C "$SRC" modules
