#!/bin/bash
# t/interop/eab.sh: External Account Binding (RFC 8555 7.3.4) with real
# clients against the stack's /strict/ CA, which requires it (and terms of
# service and a contact): lego --eab --kid --hmac and certbot --eab-kid
# --eab-hmac-key register with keys made by acme-server-admin eab add and
# get certificates; a client without a binding is refused, and a key that
# bound one account does not bind another.
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init eab

dir="${ACME_HTTPS_BASE}/strict/directory"
admin="$ITP_REPO/build/acme-server-admin"

# eab_key: a new EAB key of the /strict/ CA; sets kid and hmac
eab_key() {
    local out
    out=$("$admin" --database "$ACME_DB_CONNINFO" eab add --ca /strict/ \
          --note "t/interop/eab.sh" --json 2>> "$work/admin.err")
    kid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["kid"])' \
          <<< "$out" 2>/dev/null)
    hmac=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["hmac_key"])' \
           <<< "$out" 2>/dev/null)
    [ -n "$kid" ] && [ -n "$hmac" ]
}

# lego_ PATH DOMAIN [GLOBAL-FLAGS...] run: lego against /strict/ (lego's
# --eab, --kid and --hmac are global flags: before the command)
lego_() {
    local path=$1 domain=$2
    shift 2
    echo "=== lego $*" >> "$work/lego.out"
    env LEGO_CA_CERTIFICATES="$ACME_TLS_CA_BUNDLE" \
        timeout 180 lego --server "$dir" --accept-tos \
        --email "ops@example.test" --path "$path" --domains "$domain" \
        --key-type ec256 --http --http.port "127.0.0.1:$HTTP01PORT" \
        "$@" >> "$work/lego.out" 2>&1
}

# certbot_ OUT DOMAIN ARGS...: certbot against /strict/
certbot_() {
    local out=$1 domain=$2
    shift 2
    env REQUESTS_CA_BUNDLE="$ACME_TLS_CA_BUNDLE" \
        timeout 240 certbot certonly --non-interactive --agree-tos \
        -m "ops@example.test" --server "$dir" \
        --config-dir "$out/config" --work-dir "$out/work" \
        --logs-dir "$out/logs" --standalone \
        --http-01-address 127.0.0.1 --http-01-port "$HTTP01PORT" \
        --cert-name eab -d "$domain" "$@" > "$out/certbot.out" 2>&1
}

# 1. lego without a binding: lego reads meta.externalAccountRequired and
# stops; the server's own refusal is in t/protocol/test_policy.py
if lego_ "$work/lego0" lego-noeab.example.test run; then
    nok "lego without EAB is refused"
else
    if grep -qE 'externalAccountRequired|requires External Account' \
            "$work/lego.out"
    then
        ok "lego without EAB is refused (the directory requires EAB)"
    else
        nok "lego without EAB is refused (the directory requires EAB)"
        stk_tail "$work/lego.out" 20
    fi
fi

# 2. lego with a binding
if eab_key; then
    ok "acme-server-admin eab add --ca /strict/"
else
    nok "acme-server-admin eab add --ca /strict/"
    sed 's/^/# /' "$work/admin.err"
fi
lego_kid=$kid
lego_hmac=$hmac

crt="$work/lego1/certificates/lego-eab.example.test.crt"
if lego_ "$work/lego1" lego-eab.example.test --eab --kid="$kid" \
       --hmac="$hmac" run && [ -s "$crt" ]
then
    ok "lego --eab run"
    itp_check_cert "lego --eab" "$crt" "$crt" lego-eab.example.test
    bound=$(psql "$ACME_DB_CONNINFO" -Atc "select account_id is not null \
            from eab_keys where kid = '$kid'" 2>/dev/null)
    if [ "$bound" = t ]; then
        ok "lego's EAB key is bound to its account"
    else
        nok "lego's EAB key is bound to its account" "got '$bound'"
    fi
else
    nok "lego --eab run"
    stk_tail "$work/lego.out" 40
fi

# 3. certbot with a binding
if eab_key; then
    ok "acme-server-admin eab add (certbot's key)"
else
    nok "acme-server-admin eab add (certbot's key)"
fi
mkdir -p "$work/cb1"
if certbot_ "$work/cb1" certbot-eab.example.test --eab-kid="$kid" \
       --eab-hmac-key="$hmac"
then
    ok "certbot --eab-kid --eab-hmac-key"
    itp_check_cert "certbot EAB" "$work/cb1/config/live/eab/cert.pem" \
        "$work/cb1/config/live/eab/chain.pem" certbot-eab.example.test
else
    nok "certbot --eab-kid --eab-hmac-key"
    stk_tail "$work/cb1/certbot.out" 30
fi

# 4. lego's key cannot bind a second account
if lego_ "$work/lego2" lego-eab2.example.test --eab --kid="$lego_kid" \
       --hmac="$lego_hmac" run
then
    nok "an EAB key already bound does not bind a second account"
else
    if grep -q 'unauthorized' "$work/lego.out"; then
        ok "an EAB key already bound does not bind a second account"
    else
        nok "an EAB key already bound does not bind a second account"
        stk_tail "$work/lego.out" 20
    fi
fi

done_
