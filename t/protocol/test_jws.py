"""RFC 8555 6.2-6.5: request authentication. Every test breaks one rule
and expects the problem document the RFC names, with a fresh nonce."""

import json
import subprocess
import time

import josepy as jose
import pytest

from acmehelp import Raw, assert_problem, b64, ec_key, raw_jws, rsa_key


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def test_rfc8555_7_2_head_new_nonce_200_get_204(raw, session):
    h = session.head(raw.dir["newNonce"], timeout=10)
    g = session.get(raw.dir["newNonce"], timeout=10)
    assert h.status_code == 200
    assert g.status_code == 204
    for r in (h, g):
        assert len(r.headers["Replay-Nonce"]) >= 22
        assert r.headers["Cache-Control"] == "no-store"
        assert 'rel="index"' in r.headers["Link"]
    assert h.headers["Replay-Nonce"] != g.headers["Replay-Nonce"]


def test_rfc8555_6_5_nonces_are_unique(raw, ca_bundle):
    """Nonces come from per-thread buffers of random octets in every
    worker: 2,000 from eight connections (both workers, pool threads
    through badNonce answers) never repeat."""
    import requests
    seen = []
    for i in range(8):
        with requests.Session() as s:
            s.verify = ca_bundle
            s.trust_env = False
            for _ in range(200):
                r = s.head(raw.dir["newNonce"], timeout=10)
                seen.append(r.headers["Replay-Nonce"])
            for _ in range(50):
                # minted by a pool thread with the problem document
                r = s.post(raw.dir["newAccount"], data=b"{}", timeout=10,
                           headers={"Content-Type":
                                    "application/jose+json"})
                assert r.status_code == 400, r.text
                seen.append(r.headers["Replay-Nonce"])
    assert len(seen) == 2000
    assert len(set(seen)) == len(seen)


def test_rfc8555_6_5_1_nonce_is_base64url(raw):
    n = raw.nonce()
    assert all(c.isalnum() or c in "-_" for c in n), n


def test_rfc8555_6_2_wrong_content_type_is_415(raw):
    key = ec_key()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                 content_type="application/json")
    assert_problem(r, 415, "malformed")


def test_rfc8555_6_3_get_on_post_resource_is_405(raw, session):
    r = session.get(raw.dir["newOrder"], timeout=10)
    assert_problem(r, 405, "malformed")
    assert "POST" in r.headers["Allow"]


def test_rfc8555_6_2_bad_signature_is_malformed(raw):
    key = ec_key()
    body = json.loads(raw.sign(raw.dir["newAccount"],
                               {"termsOfServiceAgreed": True}, key))
    sig = bytearray(jose.b64decode(body["signature"]))
    sig[5] ^= 0x01
    body["signature"] = b64(bytes(sig))
    r = raw.post(raw.dir["newAccount"], None, key, body=json.dumps(body))
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_jws_must_not_have_unprotected_header(raw):
    key = ec_key()
    body = json.loads(raw.sign(raw.dir["newAccount"],
                               {"termsOfServiceAgreed": True}, key))
    body["header"] = {"kid": "x"}
    r = raw.post(raw.dir["newAccount"], None, key, body=json.dumps(body))
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_not_json_is_malformed(raw):
    r = raw.post(raw.dir["newAccount"], None, None, body="not json")
    assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_rfc8555_6_2_mac_and_none_are_bad_signature_algorithm(raw, alg):
    body = raw_jws({"alg": alg, "nonce": raw.nonce(),
                    "url": raw.dir["newAccount"],
                    "jwk": json.loads(ec_key().public_key().json_dumps())},
                   {"termsOfServiceAgreed": True})
    r = raw.post(raw.dir["newAccount"], None, None, body=body)
    p = assert_problem(r, 400, "badSignatureAlgorithm")
    assert "ES256" in p["algorithms"] and "RS256" in p["algorithms"]


def test_rfc8555_6_2_jwk_and_kid_together_is_malformed(raw):
    body = raw_jws({"alg": "ES256", "nonce": raw.nonce(),
                    "url": raw.dir["newAccount"], "kid": "x",
                    "jwk": json.loads(ec_key().public_key().json_dumps())},
                   {"termsOfServiceAgreed": True})
    r = raw.post(raw.dir["newAccount"], None, None, body=body)
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_new_account_with_kid_is_malformed(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                 kid=kid)
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_new_order_with_jwk_is_malformed(raw):
    key, _ = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "www.example.test"}]}, key)
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_alg_not_matching_key_is_bad_signature_algorithm(raw):
    key = rsa_key()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True},
                 key, alg=jose.RS256,
                 body=raw_jws({"alg": "ES256", "nonce": raw.nonce(),
                               "url": raw.dir["newAccount"],
                               "jwk": json.loads(
                                   key.public_key().json_dumps())},
                              {"termsOfServiceAgreed": True}))
    assert_problem(r, 400, "badSignatureAlgorithm")


@pytest.mark.parametrize("alg,make", [
    (jose.ES256, ec_key), (jose.RS256, rsa_key), (jose.PS256, rsa_key)],
    ids=["ES256", "RS256", "PS256"])
def test_rfc8555_6_2_accepted_algorithms(raw, alg, make):
    key = make()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                 alg=alg)
    assert r.status_code == 201, r.text


def test_rfc8555_6_5_reused_nonce_is_bad_nonce(raw):
    key, kid = raw.new_account()
    nonce = raw.nonce()
    url = kid
    first = raw.post(url, b"", key, kid=kid, nonce=nonce)
    assert first.status_code == 200, first.text
    again = raw.post(url, b"", key, kid=kid, nonce=nonce)
    assert_problem(again, 400, "badNonce")


def test_rfc8555_6_5_nonce_older_than_lost_redis_data_is_bad_nonce(
        raw, stack_env):
    """Redis lost the spent nonces (here: only the epoch key, which marks
    when its data set began): a nonce minted before cannot be proved
    unspent and is badNonce; the next spend starts a new epoch, and nonces
    minted since work."""
    host, port = stack_env["ACME_REDIS"].rsplit(":", 1)
    key, kid = raw.new_account()
    old = raw.nonce()
    time.sleep(1.1)
    subprocess.run(["redis-cli", "-h", host, "-p", port, "DEL",
                    "acme:nonce:epoch"], check=True, capture_output=True,
                   timeout=30)
    r = raw.post(kid, b"", key, kid=kid, nonce=old)
    assert_problem(r, 400, "badNonce")
    epoch = subprocess.run(["redis-cli", "-h", host, "-p", port, "GET",
                            "acme:nonce:epoch"], check=True,
                           capture_output=True, text=True,
                           timeout=30).stdout.strip()
    assert abs(int(epoch) - time.time()) < 30
    ok = raw.post(kid, b"", key, kid=kid, nonce=r.headers["Replay-Nonce"])
    assert ok.status_code == 200, ok.text
    # the same nonce again: spent
    again = raw.post(kid, b"", key, kid=kid,
                     nonce=r.headers["Replay-Nonce"])
    assert_problem(again, 400, "badNonce")
    # nonces cached by later tests' clients are newer than the epoch
    time.sleep(1.1)


def test_rfc8555_6_5_missing_nonce_is_bad_nonce(raw):
    key = ec_key()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                 nonce="")
    assert_problem(r, 400, "badNonce")


def test_rfc8555_6_5_forged_nonce_is_bad_nonce(raw):
    key = ec_key()
    forged = b64(b"\x00" * 32)
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                 nonce=forged)
    assert_problem(r, 400, "badNonce")


def test_rfc8555_6_5_bad_nonce_response_nonce_works(raw):
    key = ec_key()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                 nonce=b64(b"\x01" * 32))
    assert_problem(r, 400, "badNonce")
    ok = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key,
                  nonce=r.headers["Replay-Nonce"])
    assert ok.status_code == 201, ok.text


def test_rfc8555_6_4_wrong_url_is_unauthorized(raw):
    key = ec_key()
    body = raw.sign(raw.dir["newOrder"], {"termsOfServiceAgreed": True}, key)
    r = raw.post(raw.dir["newAccount"], None, key, body=body)
    assert_problem(r, 403, "unauthorized")


def test_rfc8555_6_2_unknown_kid_is_account_does_not_exist(raw):
    key = ec_key()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "www.example.test"}]}, key,
        kid=raw.base + "acct/AAAAAAAAAAAAAAAAAAAAAA")
    assert_problem(r, 400, "accountDoesNotExist")


def test_rfc8555_6_2_kid_signed_by_other_key_is_malformed(raw):
    _, kid = raw.new_account()
    other = ec_key()
    r = raw.post(kid, b"", other, kid=kid)
    assert_problem(r, 400, "malformed")
