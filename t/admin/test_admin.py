"""Black-box tests of acme-server-admin (build/acme-server-admin) against
a running stack's PostgreSQL, with data made through the ACME API (the
stack's nginx and validator) or with psql.

Run under /usr/bin/python3 like t/protocol, against the stack named by
$ACME_STACK_ENV (default REPO/.stack/env): scripts/test.sh does it, or
    ACME_STACK_ENV=/tmp/stack/env /usr/bin/python3 -m pytest -q t/admin
The fixtures of t/protocol/conftest.py (stack_env, http01_server, the
nginx error.log watch) are loaded from there.
"""

import base64
import importlib.util
import json
import os
import pathlib
import secrets
import subprocess
import sys
import time

import josepy as jose
import pytest
from cryptography import x509

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROTOCOL = REPO / "t" / "protocol"
ADMIN = REPO / "build" / "acme-server-admin"

sys.path.insert(0, str(PROTOCOL))
from acmehelp import Raw, b64, csr_der  # noqa: E402  pylint: disable=C0413

_spec = importlib.util.spec_from_file_location(
    "acme_protocol_conftest", PROTOCOL / "conftest.py")
_proto = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_proto)

# the protocol fixtures, used here by name (autouse ones included)
stack_env = _proto.stack_env
directory_url = _proto.directory_url
ca_bundle = _proto.ca_bundle
session = _proto.session
http01_port = _proto.http01_port
http01_server = _proto.http01_server
nginx_error_log = _proto.nginx_error_log
_error_log_watch = _proto._error_log_watch
_no_alerts_during_test = _proto._no_alerts_during_test

CA = "/acme/"


# --- helpers -------------------------------------------------------------

@pytest.fixture(scope="session")
def conninfo(stack_env):
    c = stack_env.get("ACME_DB_CONNINFO")
    if not c:
        pytest.exit("stack env: ACME_DB_CONNINFO missing", returncode=2)
    if not os.access(ADMIN, os.X_OK):
        pytest.exit("%s missing: run make admin" % ADMIN, returncode=2)
    return c


@pytest.fixture
def admin(conninfo):
    """admin(*args, db=True, env=None) -> CompletedProcess; db adds
    --database CONNINFO."""

    def run(*args, db=True, env=None):
        e = {k: v for k, v in os.environ.items()
             if k != "ACME_SERVER_DATABASE"}
        e.update(env or {})
        argv = [str(ADMIN)] + list(args)
        if db:
            argv += ["--database", conninfo]
        return subprocess.run(argv, capture_output=True, text=True,
                              env=e, cwd=str(REPO), timeout=60, check=False)

    return run


def ok_json(p):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout)


@pytest.fixture
def psql(conninfo):
    """psql(sql, *params) -> list of rows (lists of str); params are
    bound as :'p1', :'p2', ... psql variables."""

    def run(sql, *params):
        argv = ["psql", "-X", "-q", "-A", "-t", "-F", "\t",
                "-v", "ON_ERROR_STOP=1", "-d", conninfo]
        for i, p in enumerate(params, 1):
            argv += ["-v", "p%d=%s" % (i, p)]
        p = subprocess.run(argv, input=sql, capture_output=True, text=True,
                           timeout=60, check=False)
        assert p.returncode == 0, p.stderr
        return [l.split("\t") for l in p.stdout.splitlines() if l]

    return run


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def account_id(kid_url):
    return kid_url.rstrip("/").rsplit("/", 1)[1]


def ready_order(raw, http01_server, names):
    """An account and its order with every authorization valid
    (t/protocol/test_resources.py _ready_order)."""
    key, kid = raw.new_account()
    resp = raw.new_order(key, kid, names)
    assert resp.status_code == 201, resp.text
    o = resp.json()
    thumb = jose.b64encode(key.public_key().thumbprint()).decode()
    for az_url in o["authorizations"]:
        a = raw.post(az_url, b"", key, kid=kid).json()
        ch = next(c for c in a["challenges"] if c["type"] == "http-01")
        http01_server[ch["token"]] = ch["token"] + "." + thumb
        r = raw.post(ch["url"], {}, key, kid=kid)
        assert r.status_code == 200, r.text
    for _ in range(100):
        o = raw.post(resp.headers["Location"], b"", key, kid=kid).json()
        if o["status"] != "pending":
            break
        time.sleep(0.1)
    assert o["status"] == "ready", o
    return key, kid, resp.headers["Location"], o


def issue(raw, http01_server, names=("www.example.test",)):
    """Issues a certificate: (key, kid, order url, certificate, serial)."""
    names = list(names)
    key, kid, url, o = ready_order(raw, http01_server, names)
    der, _ = csr_der(names)
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text
    pem = raw.post(r.json()["certificate"], b"", key, kid=kid)
    assert pem.status_code == 200, pem.text
    cert = x509.load_pem_x509_certificate(pem.content)
    serial = "%x" % cert.serial_number
    if len(serial) % 2:
        serial = "0" + serial
    return key, kid, url, cert, serial


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --- migrate ---------------------------------------------------------------

def test_migrate_is_current_and_idempotent(admin, psql):
    p = admin("migrate", "--dir", str(REPO / "sql"), "--json")
    assert ok_json(p) == {"applied": 0, "versions": []}
    rows = psql("SELECT version FROM schema_migrations ORDER BY 1")
    assert ["0002_create_eab_keys"] in rows
    p = admin("migrate", "--dir", str(REPO / "sql"))
    assert p.returncode == 0
    assert "0 migration(s) applied" in p.stdout


# --- eab -------------------------------------------------------------------

def test_rfc8555_7_3_4_eab_add_prints_key_once(admin, psql):
    note = "test-%s" % secrets.token_hex(4)
    e = ok_json(admin("eab", "add", "--note", note, "--json"))
    assert e["ca"] == CA and e["note"] == note
    assert len(e["kid"]) == 22 and len(b64u_decode(e["kid"])) == 16
    key = b64u_decode(e["hmac_key"])
    assert len(key) == 32
    # stored as the raw 32 bytes, unbound, unrevoked
    rows = psql("SELECT encode(hmac_key, 'hex'), ca, account_id IS NULL, "
                "revoked_at IS NULL FROM eab_keys WHERE kid = :'p1'",
                e["kid"])
    assert rows == [[key.hex(), CA, "t", "t"]]
    # the key is never shown again
    for args in (("eab", "list"), ("eab", "list", "--json")):
        p = admin(*args)
        assert p.returncode == 0, p.stderr
        assert e["kid"] in p.stdout
        assert e["hmac_key"] not in p.stdout
        assert key.hex() not in p.stdout
    # text output: kid and key once, a warning on stderr
    p = admin("eab", "add", "--ca", "/other/")
    assert p.returncode == 0, p.stderr
    lines = dict(l.split(":", 1) for l in p.stdout.splitlines())
    assert len(b64u_decode(lines["hmac_key"].strip())) == 32
    assert lines["ca"].strip() == "/other/"
    assert "only this once" in p.stderr


def test_eab_list_filters_by_ca(admin):
    ca = "/t-admin-%s/" % secrets.token_hex(4)
    made = [ok_json(admin("eab", "add", "--ca", ca, "--json"))["kid"]
            for _ in range(2)]
    other = ok_json(admin("eab", "add", "--json"))["kid"]
    listed = ok_json(admin("eab", "list", "--ca", ca, "--json"))
    assert [e["kid"] for e in listed] == made
    assert all(e["status"] == "unused" and e["account"] is None
               and "hmac_key" not in e for e in listed)
    everything = [e["kid"] for e in ok_json(admin("eab", "list", "--json"))]
    assert set(made + [other]) <= set(everything)
    p = admin("eab", "list", "--ca", ca)
    assert p.returncode == 0
    assert p.stdout.splitlines()[0].split()[:4] == ["KID", "CA", "CREATED",
                                                   "STATUS"]
    assert len(p.stdout.splitlines()) == 3


def test_eab_revoke_once(admin):
    kid = ok_json(admin("eab", "add", "--json"))["kid"]
    p = admin("eab", "revoke", kid)
    assert p.returncode == 0, p.stderr
    assert "revoked" in p.stdout
    listed = {e["kid"]: e for e in ok_json(admin("eab", "list", "--json"))}
    assert listed[kid]["status"] == "revoked"
    assert listed[kid]["revoked_at"]
    p = admin("eab", "revoke", kid)
    assert p.returncode == 1 and "revoked already" in p.stderr
    p = admin("eab", "revoke", "no-such-kid-" + secrets.token_hex(4))
    assert p.returncode == 1 and "no EAB key" in p.stderr


def test_rfc8555_7_3_4_eab_store_api(raw, admin, conninfo, psql, tmp_path):
    """acme_pg_eab_get/bind/create/revoke contracts, from C (the server's
    side of EAB uses them)."""
    ids, public = [], []
    for _ in range(2):
        _, kid = raw.new_account()
        public.append(account_id(kid))
        rows = psql("SELECT id FROM accounts WHERE public_id = :'p1'",
                    public[-1])
        ids.append(rows[0][0])
    exe = tmp_path / "eab_store_check"
    cc = subprocess.run(
        [os.environ.get("CC", "cc"), "-std=gnu11", "-Wall", "-Wextra",
         "-Werror", "-Wno-unused-parameter", "-D_GNU_SOURCE",
         "-I" + str(REPO / "src"), "-I/usr/include/postgresql",
         "-o", str(exe), str(HERE / "eab_store_check.c"),
         str(REPO / "build" / "libacme.a"), "-lpq", "-lhiredis",
         "-ljansson", "-lp11", "-lssl", "-lcrypto", "-lpthread"],
        capture_output=True, text=True, timeout=120, check=False)
    assert cc.returncode == 0, cc.stderr
    prefix = "check-" + secrets.token_hex(6)
    p = subprocess.run([str(exe), conninfo, CA, "/other/", prefix] + ids,
                       capture_output=True, text=True, timeout=60,
                       check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    # the admin command shows the binding the API made
    listed = {e["kid"]: e for e in ok_json(admin("eab", "list", "--json"))}
    assert listed[prefix + "-1"]["account"] == public[0]
    assert listed[prefix + "-1"]["bound_at"]
    assert listed[prefix + "-1"]["status"] == "revoked"
    assert listed[prefix + "-2"]["account"] is None
    a = ok_json(admin("account", "show", public[0], "--json"))
    assert a["eab_kid"] == prefix + "-1"


# --- account ---------------------------------------------------------------

def test_account_show(raw, admin, http01_server):
    key, kid = raw.new_account(contact=["mailto:ops@example.test"])
    aid = account_id(kid)
    a = ok_json(admin("account", "show", aid, "--json"))
    thumb = jose.b64encode(key.public_key().thumbprint()).decode()
    assert a["id"] == aid and a["ca"] == CA and a["status"] == "valid"
    assert a["contact"] == ["mailto:ops@example.test"]
    assert a["key_thumbprint"] == thumb
    assert a["orders"] == 0 and a["certificates"] == 0
    assert a["eab_kid"] is None
    assert a["created_at"].endswith("Z")
    # with an order and a certificate
    key, kid, _, _, _ = issue(raw, http01_server)
    a = ok_json(admin("account", "show", account_id(kid), "--json"))
    assert a["orders"] == 1 and a["certificates"] == 1
    p = admin("account", "show", account_id(kid))
    assert p.returncode == 0
    assert "status:             valid" in p.stdout
    assert account_id(kid) in p.stdout
    p = admin("account", "show", "no-such-account")
    assert p.returncode == 1 and "no account" in p.stderr


def test_rfc8555_7_3_6_account_deactivate(raw, admin):
    key, kid = raw.new_account()
    aid = account_id(kid)
    p = admin("account", "deactivate", aid)
    assert p.returncode == 0, p.stderr
    assert "deactivated" in p.stdout
    assert ok_json(admin("account", "show", aid, "--json"))["status"] \
        == "deactivated"
    # the server refuses the account from now on
    r = raw.post(kid, b"", key, kid=kid)
    assert r.status_code == 401, r.text      # RFC 8555 7.3.6
    assert r.json()["type"] == "urn:ietf:params:acme:error:unauthorized"
    p = admin("account", "deactivate", aid)
    assert p.returncode == 1 and "not valid" in p.stderr


# --- cert ------------------------------------------------------------------

def test_cert_show(raw, admin, http01_server):
    names = ["www.example.test", "example.test"]
    _, kid, url, cert, serial = issue(raw, http01_server, names)
    c = ok_json(admin("cert", "show", serial, "--json"))
    assert c["serial"] == serial and c["ca"] == CA
    assert sorted(c["names"]) == sorted(names)
    assert c["status"] == "valid"
    assert c["revoked_at"] is None and c["reason"] is None
    assert c["account"] == account_id(kid)
    assert c["order"] == account_id(url)
    assert c["not_after"] == cert.not_valid_after.strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert c["not_before"] == cert.not_valid_before.strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    # upper case, colons and 0x are accepted
    colons = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))
    p = admin("cert", "show", "0x" + colons.upper())
    assert p.returncode == 0, p.stderr
    assert "revoked:     no" in p.stdout and "example.test" in p.stdout
    p = admin("cert", "show", "00ff" * 8)
    assert p.returncode == 1 and "no certificate" in p.stderr


def test_rfc5280_5_3_1_cert_revoke(raw, admin, http01_server):
    _, _, _, _, serial = issue(raw, http01_server)
    # the server's rule: 0, 1, 3, 4, 5, 9 only
    for bad in ("2", "6", "8", "10", "x"):
        p = admin("cert", "revoke", serial, "--reason", bad)
        assert p.returncode == 2, (bad, p.stderr)
    p = admin("cert", "revoke", serial, "--reason", "4")
    assert p.returncode == 0, p.stderr
    assert "reason 4 (superseded)" in p.stdout
    c = ok_json(admin("cert", "show", serial, "--json"))
    assert c["status"] == "revoked" and c["reason"] == 4 and c["revoked_at"]
    p = admin("cert", "revoke", serial, "--reason", "keyCompromise")
    assert p.returncode == 1 and "revoked already" in p.stderr
    # a name works as well as a code
    _, _, _, _, serial2 = issue(raw, http01_server)
    c = ok_json(admin("cert", "revoke", serial2, "--reason=keyCompromise",
                      "--json"))
    assert c["reason"] == 1


# --- orders and recover ----------------------------------------------------

def _stuck_order(raw, psql):
    """An order left in processing an hour ago (a crash after the serial
    was reserved)."""
    key, kid = raw.new_account()
    r = raw.new_order(key, kid, ["stuck.example.test"])
    assert r.status_code == 201, r.text
    oid = account_id(r.headers["Location"])
    psql("UPDATE orders SET status = 'processing', "
         "updated_at = now() - interval '1 hour' WHERE public_id = :'p1'",
         oid)
    return key, kid, r.headers["Location"], oid


def test_orders_status_processing(raw, admin, psql):
    _, kid, _, oid = _stuck_order(raw, psql)
    listed = ok_json(admin("orders", "--status", "processing", "--json"))
    mine = [o for o in listed if o["id"] == oid]
    assert len(mine) == 1
    assert mine[0]["status"] == "processing"
    assert mine[0]["account"] == account_id(kid)
    assert mine[0]["identifiers"] == [{"type": "dns",
                                       "value": "stuck.example.test"}]
    p = admin("orders")              # processing by default
    assert p.returncode == 0 and oid in p.stdout
    pending = ok_json(admin("orders", "--status", "pending", "--limit",
                            "1000000", "--json"))
    assert oid not in [o["id"] for o in pending]


def test_recover_fails_stuck_orders(raw, admin, psql):
    key, kid, url, oid = _stuck_order(raw, psql)
    # too young for a two-hour threshold
    r = ok_json(admin("recover", "--older-than", "2h", "--json"))
    assert r["older_than"] == 7200
    assert psql("SELECT status FROM orders WHERE public_id = :'p1'",
                oid) == [["processing"]]
    r = ok_json(admin("recover", "--older-than", "30m", "--json"))
    assert r["recovered"] >= 1
    o = raw.post(url, b"", key, kid=kid).json()
    assert o["status"] == "invalid"
    assert o["error"]["type"] == "urn:ietf:params:acme:error:serverInternal"
    p = admin("recover")
    assert p.returncode == 0 and "set invalid" in p.stdout


# --- expiring --------------------------------------------------------------

def test_expiring_within(raw, admin, psql, http01_server):
    serials = [issue(raw, http01_server)[4] for _ in range(3)]
    # two expire in about 2 days; the third is revoked
    psql("UPDATE certificates SET not_after = now() + interval '2 days' "
         "WHERE serial IN (:'p1', :'p2', :'p3')", *serials)
    assert admin("cert", "revoke", serials[2], "--reason",
                 "0").returncode == 0

    def listed(*args):
        return [c["serial"] for c in ok_json(
            admin("expiring", "--limit", "1000000", "--json", *args))]

    for w in ("3d", "72h", "4320m", "259200s", "259200"):
        got = listed("--within", w)
        assert serials[0] in got and serials[1] in got, w
        assert serials[2] not in got
    got = listed("--within", "1d")
    assert serials[0] not in got and serials[1] not in got
    assert serials[0] in listed()    # 30 days by default
    p = admin("expiring", "--within", "3d")
    assert p.returncode == 0 and serials[0] in p.stdout


# --- database settings and usage errors ------------------------------------

def test_database_from_config_and_environment(admin, conninfo, tmp_path):
    conf = tmp_path / "validator.conf"
    conf.write_text("# a comment\nredis = 127.0.0.1:1\n"
                    "database = \"%s\"\nworkers = 2\n" % conninfo)
    p = admin("orders", "--config", str(conf), "--json", db=False)
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout), list)
    p = admin("orders", "--json", db=False,
              env={"ACME_SERVER_DATABASE": conninfo})
    assert p.returncode == 0, p.stderr
    # a database that does not answer is a runtime failure
    p = admin("orders", db=False, env={
        "ACME_SERVER_DATABASE": "host=127.0.0.1 port=1 connect_timeout=2"})
    assert p.returncode == 1 and "cannot connect" in p.stderr
    (tmp_path / "empty.conf").write_text("redis = 127.0.0.1:1\n")
    p = admin("orders", "--config", str(tmp_path / "empty.conf"), db=False)
    assert p.returncode == 1 and "database" in p.stderr
    p = admin("orders", "--config", str(tmp_path / "missing.conf"),
              db=False)
    assert p.returncode == 1


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["eab"],
    ["eab", "delete"],
    ["eab", "add", "--bogus"],
    ["eab", "add", "--note"],
    ["eab", "revoke"],
    ["eab", "revoke", "a", "b"],
    ["account"],
    ["account", "show"],
    ["cert", "show", "not-hex"],
    ["cert", "revoke", "01ab"],
    ["cert", "revoke", "01ab", "--reason", "2"],
    ["orders", "--status", "done"],
    ["orders", "--limit", "0"],
    ["recover", "--older-than", "5y"],
    ["recover", "--older-than", "-5"],
    ["expiring", "--within", "soon"],
    ["expiring", "--json=yes"],
])
def test_usage_errors_exit_2(admin, args):
    p = admin(*args)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert p.stdout == ""
    assert "usage: acme-server-admin" in p.stderr


def test_no_database_is_usage_error(admin):
    p = admin("eab", "list", db=False)
    assert p.returncode == 2
    assert "--database" in p.stderr and "ACME_SERVER_DATABASE" in p.stderr
    p = admin("eab", "list", "--database", "x", "--config", "y", db=False)
    assert p.returncode == 2


def test_help(admin):
    p = admin("--help", db=False)
    assert p.returncode == 0
    for word in ("migrate", "eab add", "eab list", "eab revoke",
                 "account show", "account deactivate", "cert show",
                 "cert revoke", "orders", "recover", "expiring"):
        assert word in p.stdout
    p = admin("cert", "revoke", "--help", db=False)
    assert p.returncode == 0 and "--reason" in p.stdout
    # after a command that has subcommands, too (README "acme-server-admin")
    for cmd in ("eab", "account", "cert"):
        p = admin(cmd, "--help", db=False)
        assert p.returncode == 0 and "eab add" in p.stdout, p.stderr
