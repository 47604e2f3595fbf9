#!/bin/bash
# t/interop/uacme.sh: uacme (Debian 1.7) against a running stack: new
# account, issue over http-01 (a hook writes the token for a small python
# HTTP server on 127.0.0.1:$HTTP01PORT), forced reissue, and, when the
# directory has revokeCert, revocation signed by the account and by the
# certificate's key (the database must show both revoked) and a second
# revocation refused.
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

# uac ARGS...: uacme -v with the stack's CA trusted, output appended to
# $work/uacme.out
uac() {
    echo "=== uacme $*" >> "$work/uacme.out"
    if [ $ns_ok = 1 ]; then
        # shellcheck disable=SC2016  # expanded by the inner sh
        timeout 180 unshare -m --propagation private sh -c '
            mount --bind "$1" "$2" || exit 2
            shift 2
            exec uacme "$@"' sh "$work/bundle.pem" "$sysbundle" \
            -v -c "$conf" -a "$url" -h "$work/hook.sh" "$@" \
            >> "$work/uacme.out" 2>&1
    else
        timeout 180 uacme -v -c "$conf" -a "$url" -h "$work/hook.sh" "$@" \
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

itp_webroot_stop
done_
