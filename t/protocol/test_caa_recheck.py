"""CA/B BR 3.2.2.8 (issue 4): CAA is checked again at finalize when an
authorization's last check is older than 8 hours. The validator checks
CAA when a challenge passes; the test ages that check in PostgreSQL."""

import random
import subprocess

from acmehelp import Raw, assert_problem, b64, csr_der
from test_resources import _ready_order


def sql(stack_env, query):
    return subprocess.run(["psql", stack_env["ACME_DB_CONNINFO"], "-qAtc",
                           query], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def age_caa_checks(stack_env, order_url, age="9 hours"):
    oid = order_url.rsplit("/", 1)[1]
    sql(stack_env, "UPDATE authorizations SET caa_checked_at = now() - "
        "interval '%s' WHERE id IN (SELECT oa.authorization_id FROM "
        "order_authorizations oa JOIN orders o ON o.id = oa.order_id "
        "WHERE o.public_id = '%s')" % (age, oid))


def caa_checked_within(stack_env, order_url, interval):
    return sql(stack_env, "SELECT bool_and(caa_checked_at > now() - "
               "interval '%s') FROM authorizations a JOIN "
               "order_authorizations oa ON oa.authorization_id = a.id "
               "JOIN orders o ON o.id = oa.order_id WHERE o.public_id = "
               "'%s'" % (interval, order_url.rsplit("/", 1)[1])) == "t"


def nsupdate(stack_env, commands):
    host, port = "127.0.0.1", stack_env["DNSPORT"]
    script = "server %s %s\nzone example.test\n%s\nsend\n" % (
        host, port, "\n".join(commands))
    subprocess.run(["nsupdate", "-k", stack_env["NSUPDATE_KEY_FILE"]],
                   input=script, text=True, check=True, timeout=30)


def test_stale_caa_is_rechecked_and_permits(session, directory_url,
                                            http01_server, stack_env):
    raw = Raw(session, directory_url)
    key, kid, url, o = _ready_order(raw, http01_server,
                                    ["recheck.example.test"])
    age_caa_checks(stack_env, url)
    der, _ = csr_der(["recheck.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "valid"
    assert caa_checked_within(stack_env, url, "1 minute")


def test_caa_age_margin(session, directory_url, http01_server, stack_env):
    """The order's read gives the oldest check's age; a check within a
    minute of the 8 hours is done again, one 7 hours old is not."""
    raw = Raw(session, directory_url)
    for age, rechecked in (("7 hours 59 minutes 30 seconds", True),
                           ("7 hours", False)):
        name = "caa-margin-%d.example.test" % random.randrange(10 ** 9)
        key, kid, url, o = _ready_order(raw, http01_server, [name])
        age_caa_checks(stack_env, url, age)
        der, _ = csr_der([name])
        r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "valid"
        assert caa_checked_within(stack_env, url, "1 minute") is rechecked


def test_caa_changed_since_validation_refuses_issuance(
        session, directory_url, http01_server, stack_env):
    raw = Raw(session, directory_url)
    name = "caa-recheck-%d.example.test" % random.randrange(10 ** 9)
    key, kid, url, o = _ready_order(raw, http01_server, [name])
    # after validation, the domain's CAA stops naming this CA
    nsupdate(stack_env, ["update add %s 60 A 127.0.0.1" % name,
                         'update add %s 60 CAA 0 issue "other-ca.example"'
                         % name])
    try:
        age_caa_checks(stack_env, url)
        der, _ = csr_der([name])
        r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
        assert_problem(r, 403, "caa")
        order = raw.post(url, b"", key, kid=kid).json()
        assert order["status"] == "invalid"
        assert order["error"]["type"] == "urn:ietf:params:acme:error:caa"
        assert "other-ca.example" in order["error"]["detail"]
    finally:
        nsupdate(stack_env, ["update delete %s CAA" % name,
                             "update delete %s A" % name])
