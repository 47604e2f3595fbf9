"""RFC 8555 section 6 (message transport): the server-side requirements
that t/protocol/test_jws.py and test_bad_input.py do not already cover.
t/RFC8555.md maps every requirement to its test."""

import json
import pathlib
import re

import josepy as jose
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from acmehelp import (PROBLEM, URN, Raw, assert_problem, b64, ec_key, raw_jws,
                      rsa_key)
from test_rfc8555_common import (REGISTERED_ERRORS, jwk_of, new_order,
                                 post_body, sign_custom)

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


@pytest.fixture
def account(raw):
    return raw.new_account()


# --- 6.1 HTTPS requests ----------------------------------------------------

def test_rfc8555_6_1_resources_are_https_urls(raw, account):
    """Over the TLS listener every URL the server hands out is https."""
    key, kid = account
    assert raw.dir_url.startswith("https://")
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert",
                 "keyChange"):
        assert raw.dir[name].startswith("https://"), (name, raw.dir[name])
    assert kid.startswith("https://")
    url, o = new_order(raw, key, kid, ["https.example.test"])
    assert url.startswith("https://") and o["finalize"].startswith("https://")
    assert all(a.startswith("https://") for a in o["authorizations"])


# --- 6.2 request authentication -------------------------------------------

def test_rfc8555_6_2_compact_serialization_is_malformed(raw):
    key = ec_key()
    flat = json.loads(raw.sign(raw.dir["newAccount"],
                               {"termsOfServiceAgreed": True}, key))
    compact = ".".join([flat["protected"], flat["payload"],
                        flat["signature"]])
    r = post_body(raw, raw.dir["newAccount"], compact)
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_general_serialization_is_malformed(raw):
    """One valid signature, but in the General JSON Serialization."""
    key = ec_key()
    flat = json.loads(raw.sign(raw.dir["newAccount"],
                               {"termsOfServiceAgreed": True}, key))
    general = {"payload": flat["payload"],
               "signatures": [{"protected": flat["protected"],
                               "signature": flat["signature"]}]}
    r = post_body(raw, raw.dir["newAccount"], json.dumps(general))
    assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("extra", [
    {"b64": False, "crit": ["b64"]}, {"crit": ["x-unknown"],
                                      "x-unknown": 1}],
    ids=["b64-false", "unknown-crit"])
def test_rfc8555_6_2_unencoded_payload_and_unknown_crit_are_malformed(
        raw, extra):
    key = ec_key()
    hdr = {"jwk": jwk_of(key)}
    hdr.update(extra)
    body = sign_custom(raw, raw.dir["newAccount"], hdr,
                       b'{"termsOfServiceAgreed":true}', key)
    r = post_body(raw, raw.dir["newAccount"], body)
    assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("alg", ["ES256K", "RS1", "ES255", "Ed25519"])
def test_rfc8555_6_2_unsupported_alg_lists_algorithms(raw, alg):
    body = raw_jws({"alg": alg, "nonce": raw.nonce(),
                    "url": raw.dir["newAccount"], "jwk": jwk_of(ec_key())},
                   {"termsOfServiceAgreed": True})
    r = post_body(raw, raw.dir["newAccount"], body)
    p = assert_problem(r, 400, "badSignatureAlgorithm")
    assert isinstance(p["algorithms"], list) and "ES256" in p["algorithms"]
    assert alg not in p["algorithms"]


def _eddsa_new_account(raw):
    priv = ed25519.Ed25519PrivateKey.generate()
    x = priv.public_key().public_bytes(serialization.Encoding.Raw,
                                       serialization.PublicFormat.Raw)
    hdr = {"alg": "EdDSA", "nonce": raw.nonce(), "url": raw.dir["newAccount"],
           "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(x)}}
    prot = b64(json.dumps(hdr))
    pay = b64(json.dumps({"termsOfServiceAgreed": True}))
    sig = priv.sign((prot + "." + pay).encode())
    return post_body(raw, raw.dir["newAccount"], json.dumps(
        {"protected": prot, "payload": pay, "signature": b64(sig)}))


ALGS = {
    "ES256": (jose.ES256, lambda: ec_key()),
    "ES384": (jose.ES384, lambda: ec_key(ec.SECP384R1())),
    "ES512": (jose.ES512, lambda: ec_key(ec.SECP521R1())),
    "RS384": (jose.RS384, rsa_key),
    "RS512": (jose.RS512, rsa_key),
    "PS384": (jose.PS384, rsa_key),
    "PS512": (jose.PS512, rsa_key),
}


@pytest.mark.parametrize("alg", sorted(ALGS) + ["EdDSA"])
def test_rfc8555_6_2_signature_algorithms(raw, alg):
    """ES256 is a MUST, EdDSA/Ed25519 a SHOULD; the others are offered in
    the badSignatureAlgorithm "algorithms" list and must work too."""
    if alg == "EdDSA":
        r = _eddsa_new_account(raw)
    else:
        jalg, make = ALGS[alg]
        r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True},
                     make(), alg=jalg)
    assert r.status_code == 201, r.text
    assert r.headers["Location"]


@pytest.mark.parametrize("member", ["alg", "nonce", "url", "jwk"])
def test_rfc8555_6_2_protected_header_required_members(raw, member):
    """alg, nonce, url and one of jwk/kid must be in the protected
    header; each missing one is refused with the problem its own section
    names (a missing nonce is badNonce, 6.5; a missing url fails the 6.4
    check)."""
    key = ec_key()
    hdr = {"alg": "ES256", "nonce": raw.nonce(), "url": raw.dir["newAccount"],
           "jwk": jwk_of(key)}
    del hdr[member]
    prot = b64(json.dumps(hdr))
    pay = b64(b'{"termsOfServiceAgreed":true}')
    sig = jose.ES256.sign(key.key, (prot + "." + pay).encode())
    r = post_body(raw, raw.dir["newAccount"], json.dumps(
        {"protected": prot, "payload": pay, "signature": b64(sig)}))
    expect = {"alg": (400, ["malformed", "badSignatureAlgorithm"]),
              "nonce": (400, ["badNonce"]),
              "url": (403, ["unauthorized", "malformed"]),
              "jwk": (400, ["malformed"])}[member]
    assert r.status_code in (expect[0], 400), r.text
    assert r.json()["type"].rsplit(":", 1)[1] in expect[1], r.text
    assert r.headers.get("Replay-Nonce")


def test_rfc8555_6_2_jwk_must_be_the_signing_key(raw):
    signer, other = ec_key(), ec_key()
    body = sign_custom(raw, raw.dir["newAccount"], {"jwk": jwk_of(other)},
                       b'{"termsOfServiceAgreed":true}', signer)
    r = post_body(raw, raw.dir["newAccount"], body)
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_kid_must_be_an_account_url(raw, account):
    """A kid that is not the account URL (here: the account's orders URL)
    does not identify an account."""
    key, kid = account
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "kid.example.test"}]}, key,
        kid=kid + "/orders")
    assert_problem(r, 400, "accountDoesNotExist")


# --- 6.3 GET and POST-as-GET -----------------------------------------------

@pytest.fixture
def resource_urls(raw, account):
    key, kid = account
    url, o = new_order(raw, key, kid, ["get.example.test"])
    a = raw.post(o["authorizations"][0], b"", key, kid=kid).json()
    return {
        "newAccount": raw.dir["newAccount"], "newOrder": raw.dir["newOrder"],
        "revokeCert": raw.dir["revokeCert"],
        "keyChange": raw.dir["keyChange"], "account": kid,
        "orders": kid + "/orders", "order": url, "finalize": o["finalize"],
        "authz": o["authorizations"][0], "challenge": a["challenges"][0]["url"],
        "certificate": raw.base + "cert/AAAAAAAAAAAAAAAAAAAAAA",
    }


RESOURCES = ["newAccount", "newOrder", "revokeCert", "keyChange", "account",
             "orders", "order", "finalize", "authz", "challenge",
             "certificate"]


@pytest.mark.parametrize("name", RESOURCES)
def test_rfc8555_6_3_get_is_405_malformed(raw, resource_urls, name):
    """Every resource but the directory and newNonce refuses GET (the
    certificate too: RFC 8555 has no unauthenticated download)."""
    r = raw.s.get(resource_urls[name], timeout=30)
    assert_problem(r, 405, "malformed")


@pytest.mark.parametrize("name", ["directory", "newNonce"])
def test_rfc8555_6_3_post_as_get_directory_and_new_nonce(raw, account,
                                                         name):
    key, kid = account
    url = raw.dir_url if name == "directory" else raw.dir["newNonce"]
    r = raw.post(url, b"", key, kid=kid)
    assert r.status_code in (200, 204), (r.status_code, r.text)
    assert r.headers.get("Replay-Nonce")
    if name == "directory":
        assert r.json()["newOrder"] == raw.dir["newOrder"]


def test_rfc8555_6_3_post_as_get_is_authenticated(raw, account):
    """POST-as-GET is verified like any POST: a bad signature, a jwk
    instead of the account's kid, or another account's kid is refused."""
    key, kid = account
    url, _ = new_order(raw, key, kid, ["pag.example.test"])
    body = json.loads(raw.sign(url, b"", key, kid=kid))
    sig = bytearray(jose.b64decode(body["signature"]))
    sig[0] ^= 1
    body["signature"] = b64(bytes(sig))
    assert_problem(post_body(raw, url, json.dumps(body)), 400, "malformed")
    assert_problem(raw.post(url, b"", key), 400, "malformed")
    key2, kid2 = raw.new_account()
    assert_problem(raw.post(url, b"", key2, kid=kid2), 403, "unauthorized")
    ok = raw.post(url, b"", key, kid=kid)
    assert ok.status_code == 200 and ok.json()["status"] == "pending"


# --- 6.4 request URL integrity ---------------------------------------------

def test_rfc8555_6_4_url_of_another_resource_is_unauthorized(raw, account):
    key, kid = account
    a, _ = new_order(raw, key, kid, ["url-a.example.test"])
    b, _ = new_order(raw, key, kid, ["url-b.example.test"])
    r = post_body(raw, b, raw.sign(a, b"", key, kid=kid))
    assert_problem(r, 403, "unauthorized")


@pytest.mark.parametrize("variant", [
    "trailing-slash", "query", "fragment", "percent-encoded", "double-slash",
    "upper-scheme", "default-port-dropped", "http-scheme"])
def test_rfc8555_6_4_url_is_compared_as_a_string(raw, account, variant):
    """A "url" that denotes the same resource but is not the string the
    server gave out is refused (the 6.4 string equality check)."""
    key, kid = account
    url = kid
    scheme, rest = url.split("://", 1)
    host, path = rest.split("/", 1)
    signed = {
        "trailing-slash": url + "/",
        "query": url + "?x=1",
        "fragment": url + "#f",
        "percent-encoded": url[:-1] + "%%%02X" % ord(url[-1]),
        "double-slash": "%s://%s//%s" % (scheme, host, path),
        "upper-scheme": "HTTPS://%s/%s" % (host, path),
        "default-port-dropped": "%s://%s/%s" % (scheme, host.split(":")[0],
                                                path),
        "http-scheme": "http://%s/%s" % (host, path),
    }[variant]
    r = post_body(raw, url, sign_custom(raw, signed, {"kid": kid}, b"", key))
    assert_problem(r, 403, "unauthorized")


# --- 6.5 replay protection -------------------------------------------------

def test_rfc8555_6_5_nonce_is_single_use_across_resources(raw, account):
    key, kid = account
    nonce = raw.nonce()
    r = raw.post(kid, b"", key, kid=kid, nonce=nonce)
    assert r.status_code == 200, r.text
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "nonce.example.test"}]}, key, kid=kid,
        nonce=nonce)
    assert_problem(r, 400, "badNonce")
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True},
                 ec_key(), nonce=nonce)
    assert_problem(r, 400, "badNonce")


def test_rfc8555_6_5_nonce_of_a_refused_request_is_spent(raw, account):
    """A request refused after its nonce was checked (here: wrong "url")
    still uses the nonce up."""
    key, kid = account
    nonce = raw.nonce()
    r = post_body(raw, raw.dir["newOrder"],
                  raw.sign(kid, b"", key, kid=kid, nonce=nonce))
    assert_problem(r, 403, "unauthorized")
    assert_problem(raw.post(kid, b"", key, kid=kid, nonce=nonce), 400,
                   "badNonce")


def test_rfc8555_6_5_nonce_of_a_badly_signed_request_is_spent(raw,
                                                               account):
    key, kid = account
    nonce = raw.nonce()
    body = json.loads(raw.sign(kid, b"", key, kid=kid, nonce=nonce))
    body["signature"] = b64(b"\1" * 64)
    assert_problem(post_body(raw, kid, json.dumps(body)), 400, "malformed")
    assert_problem(raw.post(kid, b"", key, kid=kid, nonce=nonce), 400,
                   "badNonce")


def test_rfc8555_6_5_1_nonces_are_unique(raw, session):
    seen = set()
    for i in range(100):
        r = (session.head if i % 2 else session.get)(raw.dir["newNonce"],
                                                     timeout=10)
        n = r.headers["Replay-Nonce"]
        assert re.fullmatch(r"[A-Za-z0-9_-]+", n), n
        seen.add(n)
    assert len(seen) == 100


@pytest.mark.parametrize("nonce", ["a+b/c", "abcd==", "ab cd", "\u00e9t\u00e9",
                                   ""], ids=["plus-slash", "padding",
                                             "space", "non-ascii", "empty"])
def test_rfc8555_6_5_2_nonce_not_base64url_is_malformed(raw, account,
                                                         nonce):
    key, kid = account
    body = sign_custom(raw, kid, {"kid": kid, "nonce": nonce}, b"", key)
    assert_problem(post_body(raw, kid, body), 400, "malformed")


# --- 6.7 errors ------------------------------------------------------------

def test_rfc8555_6_7_problem_types_are_registered():
    """Every ACME URN the server (and the validator, which shares the
    table) can emit is in the RFC 8555 9.7.4 registry."""
    src = (REPO / "src" / "acme" / "acme_problem.c").read_text()
    names = set(re.findall(r'ACME_URN\("([A-Za-z]+)"\)', src))
    assert names, "no ACME_URN entries found in acme_problem.c"
    assert names <= REGISTERED_ERRORS, names - REGISTERED_ERRORS


def test_rfc8555_6_7_error_responses_are_problem_documents(raw, account,
                                                           session):
    key, kid = account
    errors = [
        session.get(raw.dir["newOrder"], timeout=10),                 # 405
        raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True},
                 ec_key(), content_type="application/json"),          # 415
        raw.post(kid, b"", key, kid=kid, nonce=b64(b"\0" * 32)),       # 400
        raw.post(raw.base + "order/AAAAAAAAAAAAAAAAAAAAAA", b"", key,
                 kid=kid),                                             # 404
        raw.new_order(key, kid, ["bad_name.example.test"]),            # 400
        raw.post(raw.base + "acct/AAAAAAAAAAAAAAAAAAAAAA", b"", key,
                 kid=kid),                                             # 403
        raw.post(raw.dir["newOrder"], {"identifiers": [
            {"type": "dns", "value": "x.example.test"}]}, ec_key(),
            kid=raw.base + "acct/AAAAAAAAAAAAAAAAAAAAAA"),             # 400
    ]
    for r in errors:
        assert r.status_code >= 400, r.text
        assert r.headers["Content-Type"].split(";")[0] == PROBLEM, r.headers
        p = r.json()
        assert p["type"].startswith(URN), p
        assert p["type"][len(URN):] in REGISTERED_ERRORS, p
        assert p.get("detail"), p
        assert p.get("status", r.status_code) == r.status_code, p
        assert r.headers.get("Replay-Nonce"), r.headers


def test_rfc8555_6_7_1_identifier_never_at_top_level(raw, account):
    key, kid = account
    r = raw.new_order(key, kid, ["ok.example.test", "bad_name.example.test",
                                 "also bad.example.test"])
    p = assert_problem(r, 400, "rejectedIdentifier")
    assert "identifier" not in p, p
    for sub in p.get("subproblems", []):
        assert set(sub["identifier"]) == {"type", "value"}, sub
