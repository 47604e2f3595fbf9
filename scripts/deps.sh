#!/bin/bash
# scripts/deps.sh: installs the Debian 12 packages needed to build, run the
# local stack and test. Does nothing (and needs no network) when all of them
# are installed already. Run as root.
#
# The stack runs its own PostgreSQL, Redis, nginx and Knot on high ports, so
# the system services of these packages are not needed. While installing,
# a temporary policy-rc.d (when none exists) keeps them from being started.
set -euo pipefail

PACKAGES=(
    nginx nginx-dev build-essential pkg-config git
    libpq-dev libhiredis-dev libjansson-dev libssl-dev libldns-dev ldnsutils
    libunbound-dev dns-root-data
    libp11-dev libcurl4-openssl-dev libcmocka-dev
    softhsm2 libengine-pkcs11-openssl opensc
    knot knot-dnsutils bind9-dnsutils
    postgresql redis-server
    certbot python3-certbot-dns-rfc2136 lego dehydrated uacme
    python3-acme python3-josepy python3-cryptography python3-requests
    python3-pytest
    clang libclang-rt-14-dev valgrind
    openssl ca-certificates curl iproute2 procps util-linux
)

missing=()
for p in "${PACKAGES[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} packages are installed"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root (or: apt-get install ${missing[*]})" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# keep postinst scripts from starting the system's postgresql, redis,
# nginx and knot (RECIPES 0); remove our policy-rc.d again afterwards
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/deps.sh: temporary\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    own_policy=1
    trap '[ $own_policy = 1 ] && rm -f "$policy"' EXIT
fi

apt_opts=(-y -q -o Dpkg::Options::=--force-confdef
          -o Dpkg::Options::=--force-confold)
apt-get update -q
apt-get install "${apt_opts[@]}" "${missing[@]}"

for p in "${PACKAGES[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$st" != installed ]; then
        echo "deps: $p is still not installed" >&2
        exit 1
    fi
done
echo "deps: done"
