"""RFC 8555 7.6 (revokeCert) and 7.3.5 (keyChange)."""

import json

import josepy as jose
import pytest
from acme import jws as acme_jws
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acmehelp import Raw, assert_problem, b64, csr_der, ec_key
from test_resources import _ready_order


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def _issued(raw, http01_server, names=("www.example.test",)):
    key, kid, url, o = _ready_order(raw, http01_server, list(names))
    der, cert_key = csr_der(list(names))
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text
    pem = raw.post(r.json()["certificate"], b"", key, kid=kid).text
    leaf = x509.load_pem_x509_certificate(pem.encode())
    return key, kid, leaf, cert_key


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def test_rfc8555_7_6_revoke_by_issuing_account(raw, http01_server):
    key, kid, leaf, _ = _issued(raw, http01_server)
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(_der(leaf)),
                                         "reason": 4}, key, kid=kid)
    assert r.status_code == 200, r.text
    again = raw.post(raw.dir["revokeCert"], {"certificate": b64(_der(leaf))},
                     key, kid=kid)
    assert_problem(again, 400, "alreadyRevoked")


def test_rfc8555_7_6_revoke_with_certificate_key(raw, http01_server):
    _, _, leaf, cert_key = _issued(raw, http01_server)
    jwk = jose.JWKEC(key=cert_key)
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(_der(leaf)),
                                         "reason": 1}, jwk)
    assert r.status_code == 200, r.text


def test_rfc8555_7_6_revoke_by_unrelated_account_is_unauthorized(
        raw, http01_server):
    _, _, leaf, _ = _issued(raw, http01_server)
    key2, kid2 = raw.new_account()
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(_der(leaf))},
                 key2, kid=kid2)
    assert_problem(r, 403, "unauthorized")


def test_rfc8555_7_6_revoke_by_account_authorized_for_names(
        raw, http01_server):
    _, _, leaf, _ = _issued(raw, http01_server)
    # a second account proves control of the same name
    key2, kid2, _, _ = _ready_order(raw, http01_server, ["www.example.test"])
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(_der(leaf))},
                 key2, kid=kid2)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("reason", [2, 6, 7, 8, 10, 11, -1])
def test_rfc8555_7_6_bad_revocation_reason(raw, http01_server, reason):
    key, kid, leaf, _ = _issued(raw, http01_server)
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(_der(leaf)),
                                         "reason": reason}, key, kid=kid)
    assert_problem(r, 400, "badRevocationReason")


def _key_change_body(raw, url, kid, old_key, new_key, account=None,
                     inner_url=None, nonce=None):
    inner = acme_jws.JWS.sign(
        json.dumps({"account": account or kid,
                    "oldKey": old_key.public_key().to_partial_json()})
        .encode(), key=new_key, alg=jose.ES256, nonce=nonce,
        url=inner_url or url)
    return json.loads(inner.json_dumps())


def test_rfc8555_7_3_5_key_change(raw):
    old, kid = raw.new_account()
    new = ec_key()
    url = raw.dir["keyChange"]
    r = raw.post(url, _key_change_body(raw, url, kid, old, new), old,
                 kid=kid)
    assert r.status_code == 200, r.text
    # the new key now signs for the account, the old one no longer does
    assert raw.post(kid, b"", new, kid=kid).status_code == 200
    r = raw.post(kid, b"", old, kid=kid)
    assert_problem(r, 400, "malformed")
    r = raw.post(raw.dir["newAccount"], {"onlyReturnExisting": True}, new)
    assert r.status_code == 200 and r.headers["Location"] == kid


def test_rfc8555_7_3_5_key_in_use_is_409_with_location(raw):
    old, kid = raw.new_account()
    taken, taken_kid = raw.new_account()
    url = raw.dir["keyChange"]
    r = raw.post(url, _key_change_body(raw, url, kid, old, taken), old,
                 kid=kid)
    assert_problem(r, 409, "malformed")
    assert r.headers["Location"] == taken_kid


@pytest.mark.parametrize("fault", ["account", "url", "nonce", "oldkey"])
def test_rfc8555_7_3_5_inner_jws_checks(raw, fault):
    old, kid = raw.new_account()
    new = ec_key()
    url = raw.dir["keyChange"]
    kw = {}
    if fault == "account":
        kw["account"] = raw.base + "acct/AAAAAAAAAAAAAAAAAAAAAA"
    elif fault == "url":
        kw["inner_url"] = raw.dir["newOrder"]
    elif fault == "nonce":
        kw["nonce"] = jose.b64decode(raw.nonce())
    body = _key_change_body(raw, url, kid, old, new, **kw)
    if fault == "oldkey":
        body = _key_change_body(raw, url, kid, ec_key(), new)
    r = raw.post(url, body, old, kid=kid)
    assert_problem(r, 400, "malformed")
