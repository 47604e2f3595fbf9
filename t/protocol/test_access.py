"""Access control (issue 6): every resource of one account fetched,
modified or revoked by another account is refused with unauthorized (403)
or not found (404), and is left as it was. DESIGN.md: "Every POST-as-GET
checks that the resource belongs to the signing account."

test_resources.py covers reading another account's account, order and
authorization; test_revoke_keychange.py revocation by an unrelated
account. Here: the rest, on one victim with an issued certificate, a
ready order and a pending order."""

import json
import time

import josepy as jose
import pytest
from acme import jws as acme_jws
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acmehelp import Http01Server, Raw, b64, csr_der, ec_key, PROBLEM, URN


class Victim:
    pass


def _refused(r):
    """403 unauthorized or 404: a problem document either way."""
    assert r.status_code in (403, 404), (r.status_code, r.text)
    assert r.headers["Content-Type"].split(";")[0] == PROBLEM, r.headers
    p = r.json()
    if r.status_code == 403:
        assert p["type"] == URN + "unauthorized", p
    assert r.headers.get("Replay-Nonce")
    return p


def _validate(raw, key, kid, names, responses):
    r = raw.new_order(key, kid, names)
    assert r.status_code == 201, r.text
    url, o = r.headers["Location"], r.json()
    thumb = jose.b64encode(key.public_key().thumbprint()).decode()
    for az in o["authorizations"]:
        a = raw.post(az, b"", key, kid=kid).json()
        if a["status"] != "pending":
            continue
        ch = next(c for c in a["challenges"] if c["type"] == "http-01")
        responses[ch["token"]] = ch["token"] + "." + thumb
        assert raw.post(ch["url"], {}, key, kid=kid).status_code == 200
    for _ in range(150):
        o = raw.post(url, b"", key, kid=kid).json()
        if o["status"] != "pending":
            break
        time.sleep(0.1)
    assert o["status"] == "ready", o
    return url, o


@pytest.fixture(scope="module")
def v(session, directory_url, http01_port):
    """The victim: an account with an issued certificate (order
    v.valid_url), a ready order (v.ready_url) and a pending order whose
    authorization and http-01 challenge are v.pending_authz/_chall. And
    an attacker account (v.akey, v.akid)."""
    raw = Raw(session, directory_url)
    x = Victim()
    x.raw = raw
    x.key, x.kid = raw.new_account(contact=["mailto:victim@example.test"])
    with Http01Server(http01_port) as srv:
        x.valid_url, o = _validate(raw, x.key, x.kid,
                                   ["access-a.example.test"], srv.responses)
        der, _ = csr_der(["access-a.example.test"])
        r = raw.post(o["finalize"], {"csr": b64(der)}, x.key, kid=x.kid)
        assert r.status_code == 200, r.text
        for _ in range(100):
            o = raw.post(x.valid_url, b"", x.key, kid=x.kid).json()
            if o["status"] == "valid":
                break
            time.sleep(0.1)
        x.cert_url = o["certificate"]
        pem = raw.post(x.cert_url, b"", x.key, kid=x.kid).content
        x.leaf_der = x509.load_pem_x509_certificate(pem).public_bytes(
            serialization.Encoding.DER)
        x.ready_url, x.ready = _validate(raw, x.key, x.kid,
                                         ["access-b.example.test"],
                                         srv.responses)
    r = raw.new_order(x.key, x.kid, ["access-c.example.test"])
    x.pending_url = r.headers["Location"]
    x.pending_authz = r.json()["authorizations"][0]
    a = raw.post(x.pending_authz, b"", x.key, kid=x.kid).json()
    x.pending_chall = next(c for c in a["challenges"]
                           if c["type"] == "http-01")["url"]
    x.akey, x.akid = raw.new_account()
    return x


def _as_victim(v, url):
    r = v.raw.post(url, b"", v.key, kid=v.kid)
    assert r.status_code == 200, r.text
    return r


def test_account_update_by_other_account(v):
    r = v.raw.post(v.kid, {"contact": ["mailto:attacker@example.test"]},
                   v.akey, kid=v.akid)
    _refused(r)
    assert _as_victim(v, v.kid).json()["contact"] == \
        ["mailto:victim@example.test"]


def test_account_deactivation_by_other_account(v):
    r = v.raw.post(v.kid, {"status": "deactivated"}, v.akey, kid=v.akid)
    _refused(r)
    assert _as_victim(v, v.kid).json()["status"] == "valid"


def test_orders_list_of_other_account(v):
    _refused(v.raw.post(v.kid + "/orders", b"", v.akey, kid=v.akid))


@pytest.mark.parametrize("which", ["valid_url", "ready_url", "pending_url"])
def test_order_of_other_account(v, which):
    _refused(v.raw.post(getattr(v, which), b"", v.akey, kid=v.akid))


def test_authz_deactivation_by_other_account(v):
    r = v.raw.post(v.pending_authz, {"status": "deactivated"}, v.akey,
                   kid=v.akid)
    _refused(r)
    assert _as_victim(v, v.pending_authz).json()["status"] == "pending"
    assert _as_victim(v, v.pending_url).json()["status"] == "pending"


def test_challenge_read_by_other_account(v):
    _refused(v.raw.post(v.pending_chall, b"", v.akey, kid=v.akid))


def test_challenge_response_by_other_account(v):
    _refused(v.raw.post(v.pending_chall, {}, v.akey, kid=v.akid))
    assert _as_victim(v, v.pending_chall).json()["status"] == "pending"


def test_finalize_by_other_account(v):
    der, _ = csr_der(["access-b.example.test"])
    r = v.raw.post(v.ready["finalize"], {"csr": b64(der)}, v.akey,
                   kid=v.akid)
    _refused(r)
    assert _as_victim(v, v.ready_url).json()["status"] == "ready"


def test_certificate_by_other_account(v):
    r = v.raw.post(v.cert_url, b"", v.akey, kid=v.akid)
    _refused(r)
    assert b"BEGIN CERTIFICATE" not in r.content


def test_revoke_by_other_account(v):
    r = v.raw.post(v.raw.dir["revokeCert"], {"certificate": b64(v.leaf_der)},
                   v.akey, kid=v.akid)
    _refused(r)
    # still good: the owner can revoke it (last, it changes the state)
    r = v.raw.post(v.raw.dir["revokeCert"], {"certificate": b64(v.leaf_der)},
                   v.key, kid=v.kid)
    assert r.status_code == 200, r.text


def test_key_change_of_other_account(v):
    """The attacker signs the outer JWS with its own account and names the
    victim's account in the inner one: refused, the victim's key works."""
    new = ec_key()
    url = v.raw.dir["keyChange"]
    inner = json.loads(acme_jws.JWS.sign(
        json.dumps({"account": v.kid,
                    "oldKey": v.key.public_key().to_partial_json()})
        .encode(), key=new, alg=jose.ES256, nonce=None, url=url)
        .json_dumps())
    r = v.raw.post(url, inner, v.akey, kid=v.akid)
    assert r.status_code in (400, 403, 404), (r.status_code, r.text)
    _as_victim(v, v.kid)
    assert v.raw.post(v.kid, b"", new, kid=v.kid).status_code != 200
