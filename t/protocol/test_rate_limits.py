"""Rate limits (issue 5): GCRA buckets in Redis and counts in PostgreSQL,
answered with rateLimited (RFC 8555 6.6), 429 and Retry-After. The
/limited/ CA of the test stack has small limits; tests run in file order
and new_accounts_per_ip (6 an hour from 127.0.0.1) is spent last."""

import time

import josepy as jose
import pytest

from acmehelp import Raw, assert_problem, b64, csr_der


def _reset_buckets(stack_env):
    """Empties the /limited/ CA's buckets, so that the module also passes
    against a stack it ran on before."""
    import subprocess
    host, port = stack_env["ACME_REDIS"].rsplit(":", 1)
    keys = subprocess.run(
        ["redis-cli", "-h", host, "-p", port, "--scan", "--pattern",
         "acme:rl:/limited/:*"], capture_output=True, text=True, check=True,
        timeout=30).stdout.split()
    if keys:
        subprocess.run(["redis-cli", "-h", host, "-p", port, "DEL"] + keys,
                       capture_output=True, check=True, timeout=30)


@pytest.fixture(scope="module")
def limited(stack_env):
    import requests
    _reset_buckets(stack_env)
    s = requests.Session()
    s.verify = stack_env["ACME_TLS_CA_BUNDLE"]
    s.trust_env = False
    yield Raw(s, stack_env["ACME_HTTPS_BASE"] + "/limited/directory")
    s.close()


def _limited(r, name):
    p = assert_problem(r, 429, "rateLimited")
    assert name in p["detail"], p
    assert int(r.headers["Retry-After"]) >= 1
    return p


def test_new_orders_per_account(limited):
    key, kid = limited.new_account()                    # account 1
    for i in range(2):
        r = limited.new_order(key, kid, ["o%d.example.test" % i])
        assert r.status_code == 201, r.text
    r = limited.new_order(key, kid, ["o3.example.test"])
    _limited(r, "new_orders_per_account")
    assert int(r.headers["Retry-After"]) <= 30          # 2r/m: 30 s apart


def test_pending_authorizations_per_account(limited):
    key, kid = limited.new_account()                    # account 2
    r = limited.new_order(key, kid, ["a.example.test", "b.example.test"])
    assert r.status_code == 201, r.text
    r = limited.new_order(key, kid, ["c.example.test", "d.example.test"])
    _limited(r, "pending_authorizations_per_account")


def test_failed_validations_and_certificates_per_domain(limited,
                                                        http01_server):
    key, kid = limited.new_account()                    # account 3

    # one failed validation of fail.example.test, then no more orders
    r = limited.new_order(key, kid, ["fail.example.test"])
    o = r.json()
    a = limited.post(o["authorizations"][0], b"", key, kid=kid).json()
    ch = next(c for c in a["challenges"] if c["type"] == "http-01")
    http01_server[ch["token"]] = "wrong"
    limited.post(ch["url"], {}, key, kid=kid)
    for _ in range(100):
        st = limited.post(ch["url"], b"", key, kid=kid).json()["status"]
        if st == "invalid":
            break
        time.sleep(0.1)
    assert st == "invalid"
    key4, kid4 = limited.new_account()                  # account 4
    r = limited.new_order(key, kid, ["fail.example.test"])
    _limited(r, "failed_validations_per_identifier")

    # certificates_per_domain 1r/h: one certificate for example.test
    def issue(name):
        r = limited.new_order(key4, kid4, [name])
        assert r.status_code == 201, r.text
        o = r.json()
        a = limited.post(o["authorizations"][0], b"", key4, kid=kid4).json()
        ch = next(c for c in a["challenges"] if c["type"] == "http-01")
        http01_server[ch["token"]] = ch["token"] + "." + jose.b64encode(
            key4.public_key().thumbprint()).decode()
        limited.post(ch["url"], {}, key4, kid=kid4)
        for _ in range(100):
            o = limited.post(r.headers["Location"], b"", key4,
                             kid=kid4).json()
            if o["status"] != "pending":
                break
            time.sleep(0.1)
        assert o["status"] == "ready", o
        der, _ = csr_der([name])
        return limited.post(o["finalize"], {"csr": b64(der)}, key4,
                            kid=kid4)

    assert issue("c1.example.test").status_code == 200
    r = issue("c2.example.test")
    _limited(r, "certificates_per_domain")


def test_new_accounts_per_ip(limited):
    # 4 accounts so far; the 7th of the hour is refused
    codes = []
    for _ in range(4):
        r = limited.post(limited.dir["newAccount"],
                         {"termsOfServiceAgreed": True},
                         jose.JWKEC(key=__import__(
                             "cryptography.hazmat.primitives.asymmetric.ec",
                             fromlist=["ec"]).generate_private_key(
                                 __import__("cryptography.hazmat.primitives"
                                            ".asymmetric.ec",
                                            fromlist=["ec"]).SECP256R1())))
        codes.append(r.status_code)
        if r.status_code == 429:
            _limited(r, "new_accounts_per_ip")
            break
    assert codes == [201, 201, 429], codes
