"""t/interop/python_acme.py: the python3-acme library (Debian, acme 2.1)
against a running stack. Run by python_acme.sh under /usr/bin/python3.

  1. newAccount (ES256 key), issue one certificate over http-01 (a small
     HTTP server in this process on 127.0.0.1:$HTTP01PORT), a second order
     left pending
  2. orders list (RFC 8555 7.1.2.1): POST-as-GET on the account's "orders"
     URL, following Link: rel="next", lists both orders
  3. account key rollover (7.3.5) when the directory has keyChange (python3-
     acme 2.1 has no keyChange call: the nested JWS is built here with
     josepy): the new key works, the old key no longer finds the account,
     and a key already used by another account is refused with 409 and
     that account's Location
  4. deactivation (7.3.6): status "deactivated", then requests signed by the
     account are refused with unauthorized and the database says so

Prints "ok - ..." / "not ok - ..." lines and, last,
"N passed, N failed"; exits 1 when anything failed.
"""

import datetime
import json
import logging
import os
import subprocess
import sys
import tempfile
import traceback

import josepy as jose
from acme import challenges, client, crypto_util, errors, messages
from acme import jws as acme_jws
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# the tests' http-01 responder (t/protocol/acmehelp.py)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "protocol"))
from acmehelp import Http01Server  # noqa: E402

PASSED = 0
FAILED = 0
WORK = tempfile.mkdtemp(prefix="acme-pyacme.")
LOG = os.path.join(WORK, "acme.log")


def ok(msg):
    global PASSED
    PASSED += 1
    print("ok - " + msg, flush=True)


def nok(msg, detail=None):
    global FAILED
    FAILED += 1
    print("not ok - " + msg, flush=True)
    if detail:
        for line in str(detail).rstrip().splitlines():
            print("# " + line)
    tail_log()


def check(cond, msg, detail=None):
    if cond:
        ok(msg)
    else:
        nok(msg, detail)
    return cond


_log_shown = 0


def tail_log(n=40):
    """The client's debug log (requests and responses) since the last one
    shown, at most N lines."""
    global _log_shown
    try:
        with open(LOG, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    new = lines[_log_shown:]
    _log_shown = len(lines)
    if new:
        print("# ----- client log (last %d lines) -----" % min(n, len(new)))
        for line in new[-n:]:
            print("# " + line)


def mark_log():
    global _log_shown
    try:
        with open(LOG, encoding="utf-8", errors="replace") as f:
            _log_shown = len(f.read().splitlines())
    except OSError:
        pass


def load_env():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    path = os.environ.get("ACME_STACK_ENV") or os.path.join(
        os.environ.get("ACME_STACK_DIR") or os.path.join(repo, ".stack"),
        "env")
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] == "'":
                v = v[1:-1]
            env[k] = v
    return path, env


class RawJSON(jose.JSONDeSerializable):
    """An arbitrary JSON object as a payload for ClientNetwork.post."""

    def __init__(self, obj):
        self.obj = obj

    def to_partial_json(self):
        return self.obj

    @classmethod
    def from_json(cls, jobj):
        return cls(jobj)


def ec_key():
    return jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))


def rsa_key():
    return jose.JWKRSA(key=rsa.generate_private_key(65537, 2048))


# the key authorizations that the http-01 responder (acmehelp.Http01Server)
# answers, by token
TOKENS = {}


# --- the client -------------------------------------------------------------


class Acme:
    """A ClientV2 with its own key and network."""

    def __init__(self, env, key, alg):
        self.env = env
        self.net = client.ClientNetwork(
            key, alg=alg, user_agent="nginx-acme-server-interop",
            verify_ssl=env["ACME_TLS_CA_BUNDLE"], timeout=30)
        self.directory = client.ClientV2.get_directory(
            env["ACME_DIRECTORY_URL"], self.net)
        self.c = client.ClientV2(self.directory, self.net)
        self.regr = None

    def new_account(self, email):
        self.regr = self.c.new_account(messages.NewRegistration.from_data(
            email=email, terms_of_service_agreed=True))
        return self.regr

    def post(self, url, payload):
        """POST a JWS signed with the account's kid; payload None is
        POST-as-GET. Returns the response (raises messages.Error)."""
        return self.c._post(url, payload)

    def post_as_get(self, url):
        return self.post(url, None)

    def lookup(self, key, alg):
        """newAccount with onlyReturnExisting signed by KEY (jwk)."""
        net = client.ClientNetwork(
            key, alg=alg, user_agent="nginx-acme-server-interop",
            verify_ssl=self.env["ACME_TLS_CA_BUNDLE"], timeout=30)
        c = client.ClientV2(self.directory, net)
        return c._post(self.directory["newAccount"],
                       RawJSON({"onlyReturnExisting": True}))


def issue(a, domain, port):
    """Order DOMAIN, answer http-01, finalize; returns the OrderResource."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    csr = crypto_util.make_csr(key_pem, [domain])
    order = a.c.new_order(csr)
    for authzr in order.authorizations:
        if authzr.body.status == messages.STATUS_VALID:
            continue
        chall = next(c for c in authzr.body.challenges
                     if isinstance(c.chall, challenges.HTTP01))
        resp, validation = chall.response_and_validation(a.net.key)
        TOKENS[chall.chall.encode("token")] = validation
        a.c.answer_challenge(chall, resp)
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=90)
    return a.c.poll_and_finalize(order, deadline=deadline)


def verify_chain(env, fullchain_pem, domain):
    certs = []
    cur = []
    for line in fullchain_pem.splitlines():
        cur.append(line)
        if line.startswith("-----END CERTIFICATE-----"):
            certs.append("\n".join(cur) + "\n")
            cur = []
    if not certs:
        return False, "no certificate in the chain"
    leaf = os.path.join(WORK, domain + ".pem")
    inter = os.path.join(WORK, domain + ".chain.pem")
    with open(leaf, "w") as f:
        f.write(certs[0])
    args = ["openssl", "verify", "-CAfile", env["ACME_CA_CERT"]]
    if len(certs) > 1:
        with open(inter, "w") as f:
            f.write("".join(certs[1:]))
        args += ["-untrusted", inter]
    p = subprocess.run(args + [leaf], capture_output=True, text=True,
                       timeout=30)
    return p.returncode == 0, p.stdout + p.stderr


def orders_list(a, url, limit=50):
    """All order URLs of the list at URL, following Link: rel="next"."""
    seen = []
    pages = 0
    while url and pages < limit:
        pages += 1
        r = a.post_as_get(url)
        seen += r.json().get("orders", [])
        nxt = a.c._get_links(r, "next")
        url = nxt[0] if nxt else None
    return seen, pages


def key_change(a, new_key, new_alg):
    """RFC 8555 7.3.5: outer JWS by the old key (kid), payload the inner
    JWS signed by the new key (jwk, url, no nonce) over {account, oldKey}."""
    url = a.directory["keyChange"]
    inner_payload = json.dumps({
        "account": a.regr.uri,
        "oldKey": a.net.key.public_key().to_partial_json(),
    }).encode()
    inner = acme_jws.JWS.sign(inner_payload, key=new_key, alg=new_alg,
                              nonce=None, url=url)
    return a.post(url, RawJSON(inner.to_partial_json()))


def psql(env, sql):
    p = subprocess.run(["psql", env["ACME_DB_CONNINFO"], "-X", "-Atc", sql],
                       capture_output=True, text=True, timeout=30)
    return (p.stdout + p.stderr).strip()


def status(x):
    """A status as a string (Registration.status is a str, others a
    messages.Status)."""
    return getattr(x, "name", x)


def main():
    logging.basicConfig(filename=LOG, level=logging.DEBUG,
                        format="%(asctime)s %(name)s %(message)s")
    envpath, env = load_env()
    port = int(env["HTTP01PORT"])
    print("# stack env %s, log %s" % (envpath, LOG))

    with Http01Server(port, TOKENS):
        run(env, port)


def run(env, port):
    key1 = ec_key()
    a = Acme(env, key1, jose.ES256)
    d = a.directory.to_partial_json()

    # 1. account, certificate, a pending order --------------------------
    try:
        regr = a.new_account("admin@example.test")
        check(regr.uri and status(regr.body.status) == "valid",
              "newAccount: valid account with a Location",
              "uri %r status %r" % (regr.uri, regr.body.status))
    except Exception:
        nok("newAccount", traceback.format_exc())
        return

    order1 = None
    domain = "pyacme.example.test"
    try:
        order1 = issue(a, domain, port)
        ok("issue %s over http-01" % domain)
        good, out = verify_chain(env, order1.fullchain_pem, domain)
        check(good, "chain verifies against the stack's CA", out)
    except Exception:
        nok("issue %s over http-01" % domain, traceback.format_exc())

    order2 = None
    try:
        csr = crypto_util.make_csr(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()),
            ["pyacme-pending.example.test"])
        order2 = a.c.new_order(csr)
        check(order2.uri and status(order2.body.status) == "pending",
              "newOrder: a second order, pending",
              "uri %r status %r" % (order2.uri, order2.body.status))
    except Exception:
        nok("newOrder: a second order", traceback.format_exc())

    # 2. orders list -----------------------------------------------------
    mark_log()
    try:
        acct = a.post_as_get(regr.uri).json()
        orders_url = acct.get("orders")
        if check(isinstance(orders_url, str) and orders_url,
                 "account object has an \"orders\" URL", json.dumps(acct)):
            urls, pages = orders_list(a, orders_url)
            want = [o.uri for o in (order1, order2) if o is not None]
            missing = [u for u in want if u not in urls]
            check(want and not missing,
                  "orders list (POST-as-GET, %d page(s)) has both orders"
                  % pages,
                  "missing %r from %r" % (missing, urls))
            check(len(urls) == len(set(urls)),
                  "orders list has no duplicates", repr(urls))
    except Exception:
        nok("orders list", traceback.format_exc())

    # the orders list of one account is not readable by another
    mark_log()
    try:
        other = Acme(env, ec_key(), jose.ES256)
        other.new_account("other@example.test")
        try:
            r = other.post_as_get(orders_url)
            nok("another account's orders list is refused",
                "HTTP %d %s" % (r.status_code, r.text))
        except messages.Error as e:
            check(e.typ == "urn:ietf:params:acme:error:unauthorized",
                  "another account's orders list is refused (unauthorized)",
                  str(e))
    except Exception:
        nok("another account's orders list", traceback.format_exc())

    # 3. key rollover ----------------------------------------------------
    mark_log()
    if "keyChange" not in d:
        nok("the directory has keyChange")
    else:
        key2 = rsa_key()
        rolled = False
        try:
            r = key_change(a, key2, jose.RS256)
            rolled = check(r.status_code == 200,
                           "keyChange to a new RSA key: 200",
                           "HTTP %d %s" % (r.status_code, r.text))
        except Exception:
            nok("keyChange to a new RSA key", traceback.format_exc())
        if rolled:
            a.net.key, a.net.alg = key2, jose.RS256
            try:
                r = a.post_as_get(regr.uri)
                check(r.json().get("status") == "valid",
                      "the account answers requests signed by the new key",
                      r.text)
            except Exception:
                nok("the account answers requests signed by the new key",
                    traceback.format_exc())
            try:
                r = a.lookup(key1, jose.ES256)
                nok("onlyReturnExisting with the old key:"
                    " accountDoesNotExist",
                    "HTTP %d Location %s" % (r.status_code,
                                             r.headers.get("Location")))
            except messages.Error as e:
                check(e.typ ==
                      "urn:ietf:params:acme:error:accountDoesNotExist",
                      "onlyReturnExisting with the old key:"
                      " accountDoesNotExist", str(e))
            except Exception:
                nok("onlyReturnExisting with the old key",
                    traceback.format_exc())
            try:
                r = a.lookup(key2, jose.RS256)
                check(r.status_code == 200
                      and r.headers.get("Location") == regr.uri,
                      "onlyReturnExisting with the new key: 200, the"
                      " account's Location",
                      "HTTP %d Location %s" % (r.status_code,
                                               r.headers.get("Location")))
            except Exception:
                nok("onlyReturnExisting with the new key",
                    traceback.format_exc())
            # another account may not take a key in use: 409 + Location
            try:
                b = Acme(env, ec_key(), jose.ES256)
                b.new_account("third@example.test")
                try:
                    r = key_change(b, key2, jose.RS256)
                    nok("keyChange to a key in use: 409 conflict",
                        "HTTP %d %s" % (r.status_code, r.text))
                except errors.ConflictError as e:
                    check(e.location == regr.uri,
                          "keyChange to a key in use: 409 conflict with"
                          " the other account's Location",
                          "Location %s, want %s" % (e.location, regr.uri))
                except messages.Error as e:
                    nok("keyChange to a key in use: 409 conflict", str(e))
            except Exception:
                nok("keyChange to a key in use", traceback.format_exc())

    # 4. deactivation ----------------------------------------------------
    mark_log()
    try:
        dregr = a.c.deactivate_registration(a.regr)
        check(status(dregr.body.status) == "deactivated",
              "deactivate: status \"deactivated\"",
              "status %r" % (dregr.body.status,))
    except Exception:
        nok("deactivate", traceback.format_exc())
        return

    public_id = regr.uri.rstrip("/").rsplit("/", 1)[-1]
    got = psql(env, "select status from accounts where public_id = '%s'"
               % public_id.replace("'", ""))
    check(got == "deactivated", "database: account status deactivated",
          repr(got))

    a.net.account = a.regr = dregr
    for what, fn in (
            ("POST-as-GET of the account",
             lambda: a.post_as_get(regr.uri)),
            ("newOrder",
             lambda: a.c.new_order(crypto_util.make_csr(
                 ec.generate_private_key(ec.SECP256R1()).private_bytes(
                     serialization.Encoding.PEM,
                     serialization.PrivateFormat.PKCS8,
                     serialization.NoEncryption()),
                 ["pyacme-after.example.test"]))),
            ("orders list",
             lambda: a.post_as_get(orders_url))):
        mark_log()
        try:
            fn()
            nok("after deactivation, %s is refused (unauthorized)" % what)
        except messages.Error as e:
            check(e.typ == "urn:ietf:params:acme:error:unauthorized",
                  "after deactivation, %s is refused (unauthorized)" % what,
                  str(e))
        except Exception:
            nok("after deactivation, %s" % what, traceback.format_exc())


if __name__ == "__main__":
    try:
        main()
    except Exception:
        nok("python_acme.py", traceback.format_exc())
    finally:
        if os.environ.get("ACME_INTEROP_KEEP") == "1":
            print("# kept " + WORK)
        else:
            subprocess.run(["rm", "-rf", WORK], check=False)
    print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)
