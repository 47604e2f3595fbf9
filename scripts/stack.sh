#!/bin/bash
# scripts/stack.sh up|down|status|env
#
# A private ACME stack on 127.0.0.1 high ports, everything under one state
# directory ($ACME_STACK_DIR, default $REPO/.stack): PostgreSQL 15, Redis,
# a SoftHSM2 token with the CA key, Knot DNS (zones example.test, unsigned;
# dnssec.test, signed; bogus.test, signed and then altered; one TSIG key
# for RFC 2136 updates), a throwaway TLS CA for the ACME listener, nginx with
# the acme_server module, and the validator daemon. The ports and paths are
# written to $DIR/env as shell variables (KEY='value', one a line).
#
# ACME_STACK_SKIP="migrate nginx validator" leaves out those components
# (for working on the stack before the module or the validator build).
#
# For sanitizer runs (t/sanitize/sanitize.mk):
#   ACME_MODULE_SO          the module to load (default
#                           build/nginx/ngx_http_acme_server_module.so)
#   ACME_NGINX_ENV          extra environment for nginx, as VAR=value words
#                           (e.g. LD_PRELOAD=... ASAN_OPTIONS=...)
#   ACME_VALIDATOR_WRAPPER  a command prefix for the validator (e.g.
#                           valgrind --log-file=...); not for its -t check
#
# ACME_STACK_PG_CONF     extra postgresql.conf lines, appended last (for
#                         profiling: shared_preload_libraries =
#                         'pg_stat_statements', log_statement = all)
#
# ACME_STACK_DNSSEC=0 leaves dnssec_trust_anchor out of the validator's
# configuration (the default of a real deployment; bench/run.sh uses it).
set -euo pipefail

. "$(dirname "$0")/lib-stack.sh"

DIR=${ACME_STACK_DIR:-$ACME_REPO/.stack}
SKIP=" ${ACME_STACK_SKIP:-} "
MODULE_SO=$ACME_REPO/build/nginx/ngx_http_acme_server_module.so
MODULE_SO=${ACME_MODULE_SO:-$MODULE_SO}

skipped() { [[ $SKIP == *" $1 "* ]]; }

usage() {
    echo "usage: $0 up|down|status|env" >&2
    echo "  state directory: \$ACME_STACK_DIR (default $ACME_REPO/.stack)" >&2
    exit 2
}

# --- component state -------------------------------------------------------

nginx_pidfile()     { echo "$DIR/nginx/logs/nginx.pid"; }
redis_pidfile()     { echo "$DIR/redis/redis.pid"; }
knot_pidfile()      { echo "$DIR/dns/run/knot.pid"; }
pg_pidfile()        { echo "$DIR/pg/data/postmaster.pid"; }
validator_pidfile() { echo "$DIR/validator.pid"; }

components="validator nginx knot redis pg"

any_running() {
    local c
    for c in $components; do
        stk_pid_alive "$("${c}_pidfile")" && return 0
    done
    return 1
}

# --- up --------------------------------------------------------------------

check_tools() {
    local t missing=
    for t in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/createdb" redis-server \
             redis-cli softhsm2-util pkcs11-tool openssl knotd knotc dig \
             curl ss runuser setsid flock "$NGINX_BIN"
    do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    [ -f "$SOFTHSM_MODULE" ] || missing="$missing $SOFTHSM_MODULE"
    if [ -n "$missing" ]; then
        stk_die "missing:$missing (run scripts/deps.sh)"
    fi
    if ! skipped nginx; then
        [ -f "$MODULE_SO" ] || stk_die "$MODULE_SO missing: run make all"
    fi
    if ! skipped validator; then
        [ -x "$ACME_REPO/build/acme-validator" ] \
            || stk_die "build/acme-validator missing: run make all"
    fi
    if ! skipped migrate; then
        [ -x "$ACME_REPO/build/acme-server-admin" ] \
            || stk_die "build/acme-server-admin missing: run make all"
    fi
}

# empty the state dir, but only if it is one of ours (or already empty)
prepare_dir() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    case $DIR in
        /|/bin|/boot|/dev|/etc|/home|/lib*|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/*|/var)
            stk_die "refusing state directory $DIR" ;;
        *\'*|*' '*)
            stk_die "state directory must not contain quotes or blanks: $DIR" ;;
    esac
    if [ ! -f "$DIR/.acme-stack" ] \
       && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]
    then
        stk_die "$DIR is not empty and not a stack directory"
    fi
    touch "$DIR/.acme-stack"
}

wipe_dir() {
    find "$DIR" -mindepth 1 -maxdepth 1 ! -name .lock ! -name .acme-stack \
        -exec rm -rf {} +
    # postgres and the nginx workers (nobody) must traverse it
    chmod 0711 "$DIR"
    runuser -u postgres -- test -x "$DIR" \
        || stk_die "user postgres cannot enter $DIR (a parent is not" \
                   "world-executable); set ACME_STACK_DIR elsewhere"
}

write_env() {
    local f="$DIR/env.tmp"
    {
        echo "# nginx-acme-server test stack, written by scripts/stack.sh"
        echo "ACME_STACK_DIR='$DIR'"
        echo "ACME_REPO='$ACME_REPO'"
        echo "PGPORT='$PGPORT'"
        echo "REDISPORT='$REDISPORT'"
        echo "DNSPORT='$DNSPORT'"
        echo "ACMEPORT='$ACMEPORT'"
        echo "ACMEHTTPPORT='$ACMEHTTPPORT'"
        echo "HTTP01PORT='$HTTP01PORT'"
        echo "TLSALPN01PORT='$TLSALPN01PORT'"
        echo "VALIDATOR_METRICS_URL='http://127.0.0.1:$VMETRICSPORT/metrics'"
        echo "ACME_DB_CONNINFO='$CONNINFO'"
        echo "ACME_REDIS='127.0.0.1:$REDISPORT'"
        echo "ACME_DNS_SERVER='127.0.0.1:$DNSPORT'"
        echo "ACME_DIRECTORY_URL='https://127.0.0.1:$ACMEPORT/acme/directory'"
        echo "ACME_HTTP_DIRECTORY_URL='http://127.0.0.1:$ACMEHTTPPORT/acme/directory'"
        echo "ACME_HTTPS_BASE='https://127.0.0.1:$ACMEPORT'"
        echo "ACME_HTTP_BASE='http://127.0.0.1:$ACMEHTTPPORT'"
        echo "ACME_TLS_CA_BUNDLE='$DIR/tls/minica.pem'"
        echo "ACME_CA_CERT='$DIR/ca/ca.pem'"
        echo "SOFTHSM2_CONF='$DIR/hsm/softhsm2.conf'"
        echo "ACME_PKCS11_MODULE='$SOFTHSM_MODULE'"
        echo "ACME_PKCS11_TOKEN='acme-ca'"
        echo "ACME_PKCS11_KEY='ca-ec'"
        echo "ACME_PIN_FILE='$DIR/hsm/pin'"
        echo "ACME_NONCE_KEY_FILE='$DIR/nonce.key'"
        echo "TSIG_KEY_NAME='acme-key'"
        echo "TSIG_ALGORITHM='hmac-sha256'"
        echo "TSIG_SECRET='$TSIG_SECRET'"
        echo "TSIG_KEY_FILE='$DIR/dns/tsig.key'"
        echo "NSUPDATE_KEY_FILE='$DIR/dns/nsupdate.key'"
        echo "RFC2136_INI='$DIR/dns/rfc2136.ini'"
        echo "DNSSEC_TRUST_ANCHOR='$DIR/dns/trust-anchors'"
        echo "NGINX_PREFIX='$DIR/nginx'"
        echo "NGINX_CONF='$DIR/nginx/conf/nginx.conf'"
        echo "NGINX_ERROR_LOG='$DIR/nginx/logs/error.log'"
        echo "NGINX_ACCESS_LOG='$DIR/nginx/logs/access.log'"
        echo "VALIDATOR_CONF='$DIR/validator.conf'"
        echo "VALIDATOR_LOG='$DIR/validator.log'"
        echo "ACME_STACK_SKIP='${ACME_STACK_SKIP:-}'"
    } > "$f"
    chmod 0644 "$f"
    mv "$f" "$DIR/env"
}

up_pg() {
    local d="$DIR/pg"
    mkdir -p "$d/run"
    chown -R postgres:postgres "$d"
    chmod 0700 "$d"
    stk_log "postgresql: initdb"
    (cd "$d" && runuser -u postgres -- "$PGBIN/initdb" -D "$d/data" \
        -U postgres --auth-local=trust --auth-host=trust --no-sync \
        -E UTF8 --locale=C > "$d/initdb.log" 2>&1) \
        || { stk_tail "$d/initdb.log"; return 1; }
    cat >> "$d/data/postgresql.conf" <<EOF

# test stack (scripts/stack.sh)
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$d/run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
${ACME_STACK_PG_CONF:-}
EOF
    # host connections from 127.0.0.1 only (initdb also adds ::1 and local)
    stk_log "postgresql: start on 127.0.0.1:$PGPORT"
    (cd "$d" && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d/data" \
        -l "$d/postgres.log" -w -t 60 start > "$d/pg_ctl.log" 2>&1 9>&-) \
        || { stk_tail "$d/pg_ctl.log"; stk_tail "$d/postgres.log";
             return 1; }
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres acme
    stk_wait 20 "postgresql" "$PGBIN/psql" -X -q -d "$CONNINFO" -c 'SELECT 1'
}

up_migrate() {
    stk_log "postgresql: migrate (acme-server-admin)"
    "$ACME_REPO/build/acme-server-admin" migrate --database "$CONNINFO" \
        --dir "$ACME_REPO/sql" > "$DIR/migrate.log" 2>&1 \
        || { stk_tail "$DIR/migrate.log"; return 1; }
}

up_redis() {
    local d="$DIR/redis"
    mkdir -p "$d"
    stk_log "redis: start on 127.0.0.1:$REDISPORT"
    redis-server --bind 127.0.0.1 --port "$REDISPORT" --save "" \
        --appendonly no --daemonize yes --pidfile "$d/redis.pid" \
        --logfile "$d/redis.log" --dir "$d" --unixsocket "" \
        --protected-mode yes > /dev/null 9>&-
    stk_wait 20 "redis" redis_ping
}

redis_ping() {
    [ "$(redis-cli -h 127.0.0.1 -p "$REDISPORT" ping 2>/dev/null)" = PONG ]
}

up_hsm() {
    local d="$DIR/hsm" pin sopin
    mkdir -p "$d/tokens"
    chmod 0711 "$d"
    cat > "$d/softhsm2.conf" <<EOF
directories.tokendir = $d/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
    chmod 0644 "$d/softhsm2.conf"
    export SOFTHSM2_CONF="$d/softhsm2.conf"
    pin=$(openssl rand -hex 12)
    sopin=$(openssl rand -hex 12)
    (umask 077; printf '%s\n' "$pin" > "$d/pin"; printf '%s\n' "$sopin" \
        > "$d/so-pin")
    stk_log "softhsm: token acme-ca, EC P-256 key ca-ec"
    softhsm2-util --init-token --free --label acme-ca --pin "$pin" \
        --so-pin "$sopin" > "$d/init.log" 2>&1 \
        || { stk_tail "$d/init.log"; return 1; }
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label acme-ca --login \
        --pin "$pin" --keypairgen --key-type EC:prime256v1 --label ca-ec \
        --id 01 >> "$d/init.log" 2>&1 \
        || { stk_tail "$d/init.log"; return 1; }
    mkdir -p "$DIR/ca"
    chmod 0755 "$DIR/ca"
    PKCS11_MODULE_PATH="$SOFTHSM_MODULE" openssl req -engine pkcs11 \
        -keyform engine \
        -key "pkcs11:token=acme-ca;object=ca-ec;type=private;pin-value=$pin" \
        -new -x509 -days 3650 -sha256 -subj "/CN=nginx-acme-server Demo CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$DIR/ca/ca.pem" >> "$d/init.log" 2>&1 \
        || { stk_tail "$d/init.log"; return 1; }
    chmod 0644 "$DIR/ca/ca.pem"
    # an alternate issuer chain (RFC 8555 7.4.2): the same CA followed by
    # a second, throwaway root, as a cross-signed chain would be
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$d/alt-root.key" -out "$d/alt-root.pem" -days 3650 \
        -subj "/CN=nginx-acme-server Demo Alternate Root" \
        -addext "basicConstraints=critical,CA:TRUE" \
        >> "$d/init.log" 2>&1 || { stk_tail "$d/init.log"; return 1; }
    cat "$DIR/ca/ca.pem" "$d/alt-root.pem" > "$DIR/ca/alt-chain.pem"
    chmod 0644 "$DIR/ca/alt-chain.pem"
    # the nginx workers open the token (RECIPES 3, nginx pitfall 2)
    chown -R "$ACME_WORKER_USER:$ACME_WORKER_GROUP" "$d/tokens"
}

up_nonce_key() {
    (umask 077; head -c 32 /dev/urandom > "$DIR/nonce.key")
}

up_tls() {
    local d="$DIR/tls"
    mkdir -p "$d"
    chmod 0755 "$d"
    stk_log "tls: minica and a listener certificate for localhost/127.0.0.1"
    {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/minica.key" -out "$d/minica.pem" -days 365 \
            -subj "/CN=nginx-acme-server test minica" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$d/server.key" -subj "/CN=localhost" -out "$d/server.csr"
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            "extendedKeyUsage=serverAuth" > "$d/ext.cnf"
        openssl x509 -req -in "$d/server.csr" -CA "$d/minica.pem" \
            -CAkey "$d/minica.key" -CAcreateserial -days 365 \
            -extfile "$d/ext.cnf" -out "$d/server.pem"
    } > "$d/tls.log" 2>&1 || { stk_tail "$d/tls.log"; return 1; }
    chmod 0644 "$d/minica.pem" "$d/server.pem"
}

up_knot() {
    local d="$DIR/dns"
    mkdir -p "$d/run" "$d/db" "$d/zones"
    TSIG_SECRET=$(openssl rand -base64 32)
    cat > "$d/knot.conf" <<EOF
# test stack (scripts/stack.sh)
server:
    rundir: "$d/run"
    pidfile: "$d/run/knot.pid"
    listen: [ 127.0.0.1@$DNSPORT ]
control:
    listen: "$d/run/knot.sock"
log:
  - target: "$d/knot.log"
    any: info
database:
    storage: "$d/db"
key:
  - id: acme-key
    algorithm: hmac-sha256
    secret: $TSIG_SECRET
acl:
  - id: acme_update
    key: acme-key
    action: update
template:
  - id: default
    storage: "$d/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: difference-no-serial
    journal-content: all
zone:
  - domain: example.test
    acl: acme_update
  # signed by knot (default policy: ECDSA P-256, NSEC), its KSK a trust
  # anchor of the validator: answers are "secure"
  - domain: dnssec.test
    acl: acme_update
    dnssec-signing: on
  # signed once below and then altered: answers are "bogus"
  - domain: bogus.test
    acl: acme_update
EOF
    { zone_head example.test; cat <<'EOF'
www IN A   127.0.0.1
*   IN A   127.0.0.1
; RFC 8659: the validator checks CAA for the identities in its config
@   IN CAA 0 issue "acme.example.test"
@   IN CAA 0 issuewild "acme.example.test"
EOF
    } > "$d/zones/example.test.zone"
    (umask 077
     printf 'hmac-sha256:acme-key:%s\n' "$TSIG_SECRET" > "$d/tsig.key"
     printf 'key "acme-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
         "$TSIG_SECRET" > "$d/nsupdate.key"
     cat > "$d/rfc2136.ini" <<EOF
dns_rfc2136_server = 127.0.0.1
dns_rfc2136_port = $DNSPORT
dns_rfc2136_name = acme-key
dns_rfc2136_secret = $TSIG_SECRET
dns_rfc2136_algorithm = HMAC-SHA256
EOF
    )
    { zone_head dnssec.test; cat <<'EOF'
*   IN A   127.0.0.1
@   IN CAA 0 issue "acme.example.test"
@   IN CAA 0 issuewild "acme.example.test"
EOF
    } > "$d/zones/dnssec.test.zone"
    up_bogus_zone "$d" || return 1
    knotc -c "$d/knot.conf" conf-check > "$d/conf-check.log" 2>&1 \
        || { stk_tail "$d/conf-check.log"; return 1; }
    stk_log "knot: start on 127.0.0.1:$DNSPORT (zones example.test," \
        "dnssec.test, bogus.test)"
    knotd -c "$d/knot.conf" -d > "$d/knotd.out" 2>&1 9>&- \
        || { stk_tail "$d/knotd.out"; stk_tail "$d/knot.log"; return 1; }
    stk_wait 20 "knot" dns_ready || { stk_tail "$d/knot.log"; return 1; }
    # the validator's trust anchors (RFC 4035 4.4): the KSK knot made for
    # dnssec.test and the DS of the bogus.test KSK
    stk_wait 20 "knot signing dnssec.test" dnssec_ready \
        || { stk_tail "$d/knot.log"; return 1; }
    {
        echo "; trust anchors of the test stack (scripts/stack.sh)"
        dig @127.0.0.1 -p "$DNSPORT" +time=2 +tries=2 +noall +answer \
            dnssec.test DNSKEY | awk '$5 == 257'
        cat "$d/keys/bogus-ksk.ds"
    } > "$d/trust-anchors"
}

# the first lines of a test zone NAME: SOA, NS, ns1 and the apex on
# 127.0.0.1 (the records after them are the zone's own)
zone_head() {
    cat <<EOF
\$ORIGIN $1.
\$TTL 60
@   IN SOA ns1.$1. hostmaster.$1. 1 3600 600 86400 60
@   IN NS  ns1.$1.
ns1 IN A   127.0.0.1
@   IN A   127.0.0.1
EOF
}

# bogus.test, signed with ldns-signzone and then changed without signing
# again (RFC 4035 5.5: what a validating resolver must refuse):
#   www.bogus.test A 127.0.0.1     signed as 127.0.0.2
#   caa.bogus.test CAA issue "acme.example.test"   signed as "other-ca.test"
#   records added later by RFC 2136 carry no signature at all
up_bogus_zone() {
    local d=$1
    mkdir -p "$d/keys"
    (
        cd "$d/keys"
        ksk=$(ldns-keygen -a ECDSAP256SHA256 -k bogus.test)
        zsk=$(ldns-keygen -a ECDSAP256SHA256 bogus.test)
        mv "$ksk.ds" bogus-ksk.ds
        rm -f "$zsk.ds"
        { zone_head bogus.test; cat <<'EOF'
@   IN CAA 0 issue "acme.example.test"
www IN A   127.0.0.2
caa IN A   127.0.0.1
caa IN CAA 0 issue "other-ca.test"
EOF
        } > bogus.test.zone
        ldns-signzone -f bogus.test.signed bogus.test.zone "$zsk" "$ksk"
    ) > "$d/keys/sign.log" 2>&1 || { stk_tail "$d/keys/sign.log"; return 1; }
    sed -e '/^www\.bogus\.test\.[[:space:]].*[[:space:]]A[[:space:]]/s/127\.0\.0\.2/127.0.0.1/' \
        -e '/^caa\.bogus\.test\.[[:space:]].*[[:space:]]CAA[[:space:]]/s/other-ca\.test/acme.example.test/' \
        "$d/keys/bogus.test.signed" > "$d/zones/bogus.test.zone"
    if ! grep -q 'www\.bogus\.test\..*A.127\.0\.0\.1' "$d/zones/bogus.test.zone" \
        || ! grep -q 'caa\.bogus\.test\..*CAA.*acme\.example\.test' \
            "$d/zones/bogus.test.zone"; then
        stk_log "bogus.test: the signed zone was not altered"
        return 1
    fi
}

dnssec_ready() {
    dig @127.0.0.1 -p "$DNSPORT" +time=1 +tries=1 +dnssec +noall +answer \
        dnssec.test DNSKEY | grep -q 'RRSIG'
}

dns_ready() {
    dig @127.0.0.1 -p "$DNSPORT" +time=1 +tries=1 +short example.test SOA \
        | grep -q 'ns1.example.test'
}

up_nginx() {
    local d="$DIR/nginx"
    mkdir -p "$d/conf" "$d/logs" "$d/tmp"
    sed -e "s|@STACK_DIR@|$DIR|g" \
        -e "s|@REPO@|$ACME_REPO|g" \
        -e "s|@MODULE@|$MODULE_SO|g" \
        -e "s|@ACMEPORT@|$ACMEPORT|g" \
        -e "s|@ACMEHTTPPORT@|$ACMEHTTPPORT|g" \
        -e "s|@DB_CONNINFO@|$CONNINFO|g" \
        -e "s|@REDIS@|127.0.0.1:$REDISPORT|g" \
        -e "s|@PKCS11_MODULE@|$SOFTHSM_MODULE|g" \
        -e "s|@WORKER_USER@|$ACME_WORKER_USER|g" \
        -e "s|@WORKER_GROUP@|$ACME_WORKER_GROUP|g" \
        "$ACME_REPO/conf/nginx.conf.in" > "$d/conf/nginx.conf"
    cp /etc/nginx/mime.types "$d/conf/" 2>/dev/null || true
    export SOFTHSM2_CONF="$DIR/hsm/softhsm2.conf"
    stk_log "nginx: nginx -t"
    # shellcheck disable=SC2086
    if ! env ${ACME_NGINX_ENV:-} \
         "$NGINX_BIN" -p "$d" -c conf/nginx.conf -e logs/error.log -t \
         > "$d/nginx-t.log" 2>&1
    then
        cat "$d/nginx-t.log" >&2
        return 1
    fi
    stk_log "nginx: start on https://127.0.0.1:$ACMEPORT" \
            "and http://127.0.0.1:$ACMEHTTPPORT"
    # shellcheck disable=SC2086
    env ${ACME_NGINX_ENV:-} \
        "$NGINX_BIN" -p "$d" -c conf/nginx.conf -e logs/error.log 9>&- \
        || { stk_tail "$d/logs/error.log"; return 1; }
    stk_wait 30 "nginx (GET /acme/directory)" nginx_ready \
        || { stk_tail "$d/logs/error.log"; return 1; }
}

nginx_ready() {
    curl -sf --max-time 3 --cacert "$DIR/tls/minica.pem" \
        -o /dev/null "https://127.0.0.1:$ACMEPORT/acme/directory" \
    && curl -sf --max-time 3 -o /dev/null \
        "http://127.0.0.1:$ACMEHTTPPORT/acme/directory"
}

up_validator() {
    local conf="$DIR/validator.conf"
    local dnssec_line="dnssec_trust_anchor = $DIR/dns/trust-anchors"
    if [ "${ACME_STACK_DNSSEC:-1}" = 0 ]; then
        dnssec_line="# no dnssec_trust_anchor (ACME_STACK_DNSSEC=0)"
    fi
    cat > "$conf" <<EOF
# acme-validator for the test stack (scripts/stack.sh)
database = $CONNINFO
redis = 127.0.0.1:$REDISPORT
resolver = 127.0.0.1:$DNSPORT
http01_port = $HTTP01PORT
tls_alpn01_port = $TLSALPN01PORT
metrics_listen = 127.0.0.1:$VMETRICSPORT
caa_identities = acme.example.test
$dnssec_line
account_uri_prefix = https://127.0.0.1:$ACMEPORT{ca}acct/
allow_private_addresses = yes
workers = 4
timeout = 5
log_level = info
EOF
    chmod 0600 "$conf"
    "$ACME_REPO/build/acme-validator" -t -c "$conf" > "$DIR/validator-t.log" \
        2>&1 || { cat "$DIR/validator-t.log" >&2; return 1; }
    stk_log "validator: start"
    # setsid from a background job execs in place, so $! is its pid
    # shellcheck disable=SC2086
    setsid ${ACME_VALIDATOR_WRAPPER:-} "$ACME_REPO/build/acme-validator" \
        -c "$conf" \
        >> "$DIR/validator.log" 2>&1 < /dev/null 9>&- &
    echo $! > "$DIR/validator.pid"
    # it must still be alive after a moment (bad config, no DB, ...)
    sleep 1
    if ! stk_pid_alive "$DIR/validator.pid"; then
        stk_log "validator exited at start"
        stk_tail "$DIR/validator.log"
        return 1
    fi
}

cmd_up() {
    prepare_dir
    # daemons are started with 9>&- so that they don't keep the lock
    exec 9> "$DIR/.lock"
    flock -n 9 || stk_die "another stack.sh is working on $DIR"
    if any_running; then
        stk_die "a stack is already running in $DIR" \
                "(make down or scripts/stack.sh down first)"
    fi
    check_tools
    wipe_dir

    local ports
    ports=$(stk_pick_ports 8)
    read -r PGPORT REDISPORT DNSPORT ACMEPORT ACMEHTTPPORT HTTP01PORT \
        TLSALPN01PORT VMETRICSPORT <<< "$ports"
    CONNINFO="host=127.0.0.1 port=$PGPORT dbname=acme user=postgres"
    TSIG_SECRET=
    write_env

    UP_OK=0
    trap 'up_failed' EXIT

    up_tls
    up_nonce_key
    up_hsm
    up_redis
    up_knot
    write_env     # now with the TSIG secret
    up_pg
    skipped migrate || up_migrate
    skipped nginx || up_nginx
    skipped validator || up_validator
    echo "ACME_STACK_READY='1'" >> "$DIR/env"
    UP_OK=1
    trap - EXIT

    cat <<EOF
stack up in $DIR
  ACME directory   https://127.0.0.1:$ACMEPORT/acme/directory
  (plain HTTP)     http://127.0.0.1:$ACMEHTTPPORT/acme/directory
  DNS server       127.0.0.1:$DNSPORT (zones example.test, dnssec.test,
                   bogus.test; trust anchors $DIR/dns/trust-anchors;
                   TSIG acme-key:
                   $DIR/dns/nsupdate.key)
  http-01 port     $HTTP01PORT (clients answer challenges on 127.0.0.1 here)
  tls-alpn-01 port $TLSALPN01PORT
  metrics          http://127.0.0.1:$ACMEHTTPPORT/metrics (nginx)
                   http://127.0.0.1:$VMETRICSPORT/metrics (validator)
  listener TLS CA  $DIR/tls/minica.pem (REQUESTS_CA_BUNDLE,
                   LEGO_CA_CERTIFICATES)
  issuing CA       $DIR/ca/ca.pem
  PostgreSQL       $CONNINFO
  Redis            127.0.0.1:$REDISPORT
  variables        $DIR/env
EOF
    if [ -n "${ACME_STACK_SKIP:-}" ]; then
        echo "  skipped          $ACME_STACK_SKIP"
    fi
}

up_failed() {
    local rc=$?
    [ "${UP_OK:-1}" = 1 ] && return
    stk_log "up failed (exit $rc): stopping what was started"
    stk_dump_logs "$DIR" >&2
    cmd_down >&2 || true
    exit 1
}

# --- down ------------------------------------------------------------------

down_validator() {
    stk_kill_pidfile "$(validator_pidfile)" validator 15
}

down_nginx() {
    local pf pid workers i
    pf=$(nginx_pidfile)
    pid=$(head -n1 "$pf" 2>/dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 0
    workers=$(pgrep -P "$pid" 2>/dev/null || true)
    kill -QUIT "$pid" 2>/dev/null || true          # nginx -s quit
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        stk_log "nginx did not quit gracefully in 10s: SIGTERM"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for pid in $workers; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

down_knot() {
    local pf
    pf=$(knot_pidfile)
    stk_pid_alive "$pf" || return 0
    timeout 10 knotc -c "$DIR/dns/knot.conf" stop > /dev/null 2>&1 || true
    stk_kill_pidfile "$pf" knotd 10
}

down_redis() {
    local pf
    pf=$(redis_pidfile)
    stk_pid_alive "$pf" || return 0
    if [ -f "$DIR/env" ]; then
        (stk_load_env "$DIR" && timeout 10 redis-cli -h 127.0.0.1 \
            -p "$REDISPORT" shutdown nosave > /dev/null 2>&1) || true
    fi
    stk_kill_pidfile "$pf" redis 10
}

down_pg() {
    local pf
    pf=$(pg_pidfile)
    stk_pid_alive "$pf" || return 0
    (cd "$DIR/pg" && timeout 60 runuser -u postgres -- "$PGBIN/pg_ctl" \
        -D "$DIR/pg/data" -m fast -w -t 50 stop > /dev/null 2>&1) || true
    stk_kill_pidfile "$pf" postgres 10
}

cmd_down() {
    local c
    if [ ! -d "$DIR" ]; then
        stk_log "no stack in $DIR"
        return 0
    fi
    for c in $components; do
        "down_$c" || stk_log "stopping $c failed"
    done
    for c in $components; do
        if stk_pid_alive "$("${c}_pidfile")"; then
            stk_log "$c is still running"
            return 1
        fi
    done
    stk_log "stack in $DIR stopped"
}

# --- status, env -----------------------------------------------------------

cmd_status() {
    local c pf rc=0
    if [ ! -f "$DIR/env" ]; then
        echo "no stack in $DIR"
        return 3
    fi
    stk_load_env "$DIR"
    SKIP=" ${ACME_STACK_SKIP:-} "
    echo "stack in $DIR"
    for c in $components; do
        pf=$("${c}_pidfile")
        if stk_pid_alive "$pf"; then
            printf '  %-10s running (pid %s)\n' "$c" "$(head -n1 "$pf")"
        elif skipped "$c"; then
            printf '  %-10s skipped\n' "$c"
        else
            printf '  %-10s stopped\n' "$c"
            rc=1
        fi
    done
    echo "  directory  $ACME_DIRECTORY_URL"
    return $rc
}

cmd_env() {
    [ -f "$DIR/env" ] || stk_die "no stack in $DIR"
    cat "$DIR/env"
}

case ${1:-} in
    up)     cmd_up ;;
    down)   cmd_down ;;
    status) cmd_status ;;
    env)    cmd_env ;;
    *)      usage ;;
esac
