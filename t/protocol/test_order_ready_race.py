"""RFC 8555 7.1.6: an order becomes "ready" when its last authorization
becomes valid, exactly once, also when the validator's workers finish
several of its authorizations at the same moment.

The challenge result statement (acme_pg_chall_result) counts down the
order's authz_pending on the order row; two results racing for one order
meet there. Eight names per order, their challenges answered from eight
threads at once, so that the stack validator's four workers finish them
together; a lost count leaves the order "pending" for ever, a double one
makes it "ready" too early.
"""

import concurrent.futures
import secrets
import time

import josepy as jose
import requests

from acmehelp import Raw, ec_key

NAMES = 8
ROUNDS = 4
WAIT = 30.0


def _get(raw, url, key, kid):
    r = raw.post(url, b"", key, kid=kid)
    assert r.status_code == 200, r.text
    return r.json()


def test_rfc8555_7_1_6_concurrent_validations_make_the_order_ready(
        directory_url, ca_bundle, http01_server):
    def raw():
        s = requests.Session()
        s.verify = ca_bundle
        s.trust_env = False
        return Raw(s, directory_url)

    main = raw()
    key, kid = main.new_account(ec_key())
    thumb = jose.b64encode(key.thumbprint()).decode()

    for _ in range(ROUNDS):
        tag = secrets.token_hex(4)
        names = ["r%d-%s.example.test" % (i, tag) for i in range(NAMES)]
        r = main.new_order(key, kid, names)
        assert r.status_code == 201, r.text
        order_url = r.headers["Location"]
        order = r.json()
        assert order["status"] == "pending"

        challs = []
        for url in order["authorizations"]:
            authz = _get(main, url, key, kid)
            c = next(c for c in authz["challenges"] if c["type"] == "http-01")
            http01_server[c["token"]] = c["token"] + "." + thumb
            challs.append(c["url"])

        def answer(url):
            r = raw().post(url, {}, key, kid=kid)
            assert r.status_code == 200, r.text
            return r.json()["status"]

        with concurrent.futures.ThreadPoolExecutor(NAMES) as ex:
            list(ex.map(answer, challs))

        end = time.monotonic() + WAIT
        while True:
            order = _get(main, order_url, key, kid)
            states = [_get(main, u, key, kid)["status"]
                      for u in order["authorizations"]]
            if order["status"] != "pending" or time.monotonic() > end:
                break
            time.sleep(0.2)

        # ready only with every authorization valid, and never left behind
        assert states == ["valid"] * NAMES, states
        assert order["status"] == "ready", order
