#!/bin/bash
# t/interop/uacme.sh: uacme (Debian 1.7) against a running stack: new
# account, issue over http-01 (a hook writes the token for a small python
# HTTP server on 127.0.0.1:$HTTP01PORT), forced reissue, and, when the
# directory has revokeCert, revocation signed by the account and by the
# certificate's key (the database must show both revoked) and a second
# revocation refused. Then IP-address certificates (RFC 8738): 127.0.0.1
# over http-01, and 127.0.0.1 with ::1 (when loopback has IPv6) over
# tls-alpn-01, answered by uacme's own ualpn (RFC 8737 responder, RFC 8738
# 6 reverse-name SNI) on the validator's tls-alpn-01 port.
#
# uacme uses libcurl-gnutls with the system's CA bundle and has no option
# or environment variable for another one. To trust the stack's listener CA
# without disabling verification, uacme runs in a private mount namespace in
# which /etc/ssl/certs/ca-certificates.crt is the system bundle plus
# $ACME_TLS_CA_BUNDLE. Where that is not possible (not root), it talks to
# the plain-HTTP listener instead and says so.
#
# The stack's env file: $ACME_STACK_ENV, else $ACME_STACK_DIR/env, else
# $REPO/.stack/env (make up). Last line of output: "N passed, N failed".
set -uo pipefail

# shellcheck source=t/interop/lib.sh
. "$(dirname "$0")/lib.sh"
itp_init uacme

domain=uacme.example.test
conf="$work/uacme"
root="$work/webroot"
sysbundle=/etc/ssl/certs/ca-certificates.crt
mkdir -p "$conf"

cat "$sysbundle" "$ACME_TLS_CA_BUNDLE" > "$work/bundle.pem" 2>/dev/null \
    || cp "$ACME_TLS_CA_BUNDLE" "$work/bundle.pem"

# the hook: METHOD TYPE IDENT TOKEN AUTH; http-01 only
cat > "$work/hook.sh" <<EOF
#!/bin/sh
echo "\$*" >> "$work/hook.log"
dir="$root/.well-known/acme-challenge"
case "\$1:\$2" in
begin:http-01)      printf '%s' "\$5" > "\$dir/\$4" ;;
done:http-01|failed:http-01) rm -f "\$dir/\$4" ;;
*)                  exit 1 ;;
esac
EOF
chmod 0755 "$work/hook.sh"

ns_ok=0
if [ -f "$sysbundle" ] && timeout 10 unshare -m --propagation private \
       sh -c "mount --bind '$work/bundle.pem' '$sysbundle'" 2>/dev/null
then
    ns_ok=1
    url=$ACME_DIRECTORY_URL
else
    echo "# cannot bind-mount a CA bundle in a mount namespace:" \
         "using the plain-HTTP listener"
    url=$ACME_HTTP_DIRECTORY_URL
fi

# uac ARGS...: uacme -v with the stack's CA trusted and $hook as its hook,
# output appended to $work/uacme.out
hook=$work/hook.sh
uac() {
    echo "=== uacme $*" >> "$work/uacme.out"
    if [ $ns_ok = 1 ]; then
        # shellcheck disable=SC2016  # expanded by the inner sh
        timeout 180 unshare -m --propagation private sh -c '
            mount --bind "$1" "$2" || exit 2
            shift 2
            exec uacme "$@"' sh "$work/bundle.pem" "$sysbundle" \
            -v -c "$conf" -a "$url" -h "$hook" "$@" \
            >> "$work/uacme.out" 2>&1
    else
        timeout 180 uacme -v -c "$conf" -a "$url" -h "$hook" "$@" \
            >> "$work/uacme.out" 2>&1
    fi
}

uac_failed() {
    stk_tail "$work/uacme.out" 40
    stk_tail "$work/hook.log" 10
    stk_tail "$work/webroot.log" 10
    itp_logs 30
}

if ! itp_webroot_start "$root" 300; then
    nok "http-01 server on 127.0.0.1:$HTTP01PORT"
    done_
fi

# 1. account
if uac -y new admin@example.test && [ -s "$conf/private/key.pem" ]; then
    ok "uacme -y new"
else
    nok "uacme -y new"
    uac_failed
    done_
fi

# 2. issue
cert="$conf/$domain/cert.pem"
if uac issue "$domain" && [ -s "$cert" ]; then
    ok "uacme issue $domain"
else
    nok "uacme issue $domain"
    uac_failed
    done_
fi

if grep -q "^begin http-01 $domain " "$work/hook.log" \
   && grep -q "^done http-01 $domain " "$work/hook.log"
then
    ok "hook: begin and done for http-01 $domain"
else
    nok "hook: begin and done for http-01 $domain"
    stk_tail "$work/hook.log" 10
fi

# uacme's cert.pem is the full chain (leaf first)
itp_check_cert "uacme issue" "$cert" "$cert" "$domain"
serial1=$(itp_serial "$cert")

# 3. forced reissue; the old certificate stays as cert-TIMESTAMP.pem
cp "$cert" "$work/cert1.pem"
if uac -f issue "$domain" && [ -s "$cert" ] \
   && serial2=$(itp_serial "$cert") && [ "$serial2" != "$serial1" ]
then
    ok "uacme -f issue $domain: new serial"
    itp_check_cert "uacme reissue" "$cert" "$cert" "$domain"
else
    nok "uacme -f issue $domain: new serial"
    uac_failed
    serial2=
fi

# 4. revocation
if ! itp_dir_has revokeCert; then
    nok "the directory has revokeCert"
    itp_webroot_stop
    done_
fi

# 4a. signed by the account (kid), reason superseded
if [ -n "$serial2" ]; then
    cp "$cert" "$work/cert2.pem"
    if uac -r 4 revoke "$cert"; then
        ok "uacme -r 4 revoke (account key)"
        itp_assert_revoked "uacme revoke" "$serial2" 4
    else
        nok "uacme -r 4 revoke (account key)"
        uac_failed
    fi

    # a second revocation of the same certificate: alreadyRevoked
    from=$(($(wc -l < "$work/uacme.out") + 1))
    if uac -r 4 revoke "$work/cert2.pem"; then
        nok "uacme revoke again is refused (alreadyRevoked)"
    elif tail -n "+$from" "$work/uacme.out" | grep -q 'alreadyRevoked'; then
        ok "uacme revoke again is refused (alreadyRevoked)"
    else
        nok "uacme revoke again is refused (alreadyRevoked)"
        stk_tail "$work/uacme.out" 15
    fi
fi

# 4b. signed with the certificate's own key (jwk), reason keyCompromise
if uac -r 1 revoke "$work/cert1.pem" "$conf/private/$domain/key.pem"; then
    ok "uacme -r 1 revoke with the certificate's key"
    itp_assert_revoked "uacme revoke (certificate key)" "$serial1" 1
else
    nok "uacme -r 1 revoke with the certificate's key"
    uac_failed
fi

# 5. an IP identifier (RFC 8738) over http-01, with a second account so
# that step 6 cannot reuse its authorization
conf_dns=$conf
conf="$work/uacme-ip"
mkdir -p "$conf"
ipcert="$conf/127.0.0.1/cert.pem"
if uac -y new admin@example.test && uac issue 127.0.0.1 && [ -s "$ipcert" ]
then
    ok "uacme issue 127.0.0.1 (http-01)"
    itp_assert_sans "uacme ip http-01" "$ipcert" "IP Address:127.0.0.1"
    chals=$(itp_db_cert_challenges "$(itp_serial "$ipcert")")
    if grep -qx "127.0.0.1|f|http-01|valid" <<< "$chals"; then
        ok "uacme ip: 127.0.0.1 validated over http-01"
    else
        nok "uacme ip: 127.0.0.1 validated over http-01"
        sed 's/^/# /' <<< "$chals"
    fi
else
    nok "uacme issue 127.0.0.1 (http-01)"
    uac_failed
fi
conf=$conf_dns

itp_webroot_stop

# 6. IP identifiers over tls-alpn-01 (RFC 8738 with RFC 8737): ualpn in
# server mode on the validator's tls-alpn-01 port; the hook adds each
# authorization through ualpn's client mode and refuses other types, so
# uacme picks tls-alpn-01
ips=(127.0.0.1)
bind=(-b "127.0.0.1@$TLSALPN01PORT")
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
    ips+=(::1)
    bind+=(-b "::1@$TLSALPN01PORT")
else
    echo "# no ::1 on loopback: the IPv6 identifier is left out"
fi
sock="$work/ualpn.sock"
cat > "$work/ualpn-hook.sh" <<EOF
#!/bin/sh
echo "\$*" >> "$work/hook.log"
case "\$1:\$2" in
begin:tls-alpn-01)  out=\$(echo "auth \$3 \$5" | ualpn -s "$sock") ;;
done:tls-alpn-01|failed:tls-alpn-01)
                    out=\$(echo "unauth \$3" | ualpn -s "$sock") ;;
*)                  exit 1 ;;
esac
echo "ualpn: \$out" >> "$work/hook.log"
[ "\$out" = OK ]
EOF
chmod 0755 "$work/ualpn-hook.sh"

# the backend (-c) gets what is not a tls-alpn-01 handshake: nothing here
itp_bg 300 ualpn "${bind[@]}" -c "127.0.0.1@$(stk_pick_ports 1)" \
    -s "$sock" -p "$work/ualpn.pid" -P 0 -n 1 -v -v -l "$work/ualpn.log" \
    < /dev/null > "$work/ualpn.out" 2>&1
ualpn_pid=$ITP_LAST_PID
stk_wait 10 "ualpn" test -S "$sock" || stk_tail "$work/ualpn.out" 10

hook=$work/ualpn-hook.sh
ipcert="$conf/127.0.0.1/cert.pem"
if uac issue "${ips[@]}" && [ -s "$ipcert" ]; then
    ok "uacme issue ${ips[*]} (tls-alpn-01, ualpn)"
    # openssl prints IPv6 addresses in full
    want=("IP Address:127.0.0.1")
    if [ ${#ips[@]} = 2 ]; then
        want+=("IP Address:0:0:0:0:0:0:0:1")
    fi
    itp_assert_sans "uacme ip" "$ipcert" "${want[@]}"
else
    nok "uacme issue ${ips[*]} (tls-alpn-01, ualpn)"
    uac_failed
    stk_tail "$work/ualpn.log" 20
fi

# the certificate's order in the database: each address validated over
# tls-alpn-01 (RFC 8738 7: dns-01 is never offered for an IP)
chals=
[ -s "$ipcert" ] && chals=$(itp_db_cert_challenges "$(itp_serial "$ipcert")")
for a in "${ips[@]}"; do
    if grep -qx "$a|f|tls-alpn-01|valid" <<< "$chals" \
       && ! grep -q "^$a|f|dns-01|" <<< "$chals"
    then
        ok "uacme ip: $a validated over tls-alpn-01, no dns-01 offered"
    else
        nok "uacme ip: $a validated over tls-alpn-01, no dns-01 offered"
        sed 's/^/# /' <<< "$chals"
    fi
done

itp_stop "$ualpn_pid"
done_
