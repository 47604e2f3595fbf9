"""Issue 6, bad input: a corpus of malformed and hostile requests.

Every request gets the RFC 8555 6.7 problem document the RFC names, with a
fresh Replay-Nonce (RFC 8555 6.5), or a 4xx from nginx for transport-level
faults (oversize headers): never a 5xx. No worker may crash: conftest fails
a test when nginx logs [alert] (a worker killed by a signal is one), and
this module also checks that the worker processes are the same at its end
as at its start. Every loop is bounded and every request has a timeout.

Tests marked known_bug were written against server bugs this corpus
found; the bugs are fixed and the tests now run as regression tests.
"""

import base64
import json
import os
import time

import josepy as jose
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

from acmehelp import (JOSE, PROBLEM, URN, Http01Server, Raw, assert_problem,
                      b64, ec_key, raw_jws, rsa_key)

TIMEOUT = 30
MAX_BODY = 64 * 1024
# bodies of hostile requests stay small (the 8k client_body_buffer_size
# default once made larger bodies 413: the module now raises the buffer
# to acme_server_max_body, see
# test_rfc8555_6_2_body_under_max_body_is_not_413)
SMALL = 4000


def known_bug(why):
    """A regression test of a fixed server bug (why says which)."""
    return lambda f: f


# --- helpers -------------------------------------------------------------

def assert_problem_in(r, status, names):
    """A problem document of one of the types names, with status."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    p = r.json()
    assert p["type"] in [URN + n for n in names], p
    return assert_problem(r, status, p["type"][len(URN):])


def assert_no_5xx(r):
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


def post(raw, url, body, content_type=JOSE, headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return raw.s.post(url, data=body, headers=h, timeout=TIMEOUT)


def jwk_of(key):
    return json.loads(key.public_key().json_dumps())


def sign_custom(raw, url, protected, payload, key, alg="ES256"):
    """A correctly signed flattened JWS with any protected header (a dict,
    completed with alg, nonce and url unless present) and raw payload
    octets: for the checks after signature verification."""
    hdr = {"alg": alg, "nonce": raw.nonce(), "url": url}
    hdr.update(protected)
    hdr = {k: v for k, v in hdr.items() if v is not None}
    prot = b64(json.dumps(hdr))
    pay = b64(payload)
    sig = getattr(jose, alg).sign(key.key, (prot + "." + pay).encode())
    return json.dumps({"protected": prot, "payload": pay,
                       "signature": b64(sig)})


def nested(depth, inner=b"1"):
    return b"[" * depth + inner + b"]" * depth


def worker_pids(stack_env):
    """The pids of nginx's worker processes (children of the master)."""
    pidfile = os.path.join(stack_env["NGINX_PREFIX"], "logs", "nginx.pid")
    with open(pidfile, encoding="ascii") as f:
        master = f.read().strip()
    kids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, encoding="ascii",
                      errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == master:
            kids.add(int(d))
    return kids


@pytest.fixture(scope="module", autouse=True)
def _workers_survive(stack_env):
    """No worker died (and was respawned) while this module ran."""
    before = worker_pids(stack_env)
    assert before, "no nginx workers found"
    yield
    after = worker_pids(stack_env)
    assert after == before, "nginx workers changed: %s -> %s" % (
        sorted(before), sorted(after))


@pytest.fixture(scope="module")
def raw(session, directory_url):
    return Raw(session, directory_url)


@pytest.fixture(scope="module")
def account(raw):
    """(key, kid) of an account shared by the module's kid-signed tests."""
    return raw.new_account()


@pytest.fixture(scope="module")
def pending(raw, account):
    """A pending order of the shared account: its JSON and URL."""
    key, kid = account
    r = raw.new_order(key, kid, ["bad-input.example.test"])
    assert r.status_code == 201, r.text
    return r.json(), r.headers["Location"]


def _good_jws(raw, key=None):
    key = key or ec_key()
    return json.loads(raw.sign(raw.dir["newAccount"],
                               {"termsOfServiceAgreed": True}, key))


# --- 1. transport and JSON syntax ---------------------------------------

BROKEN_BODIES = {
    "empty": b"",
    "null": b"null",
    "true": b"true",
    "number": b"42",
    "string": b'"protected"',
    "array": b"[]",
    "array-of-jws": b'[{"protected":"","payload":"","signature":""}]',
    "open-brace": b"{",
    "truncated": b'{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":',
    "trailing-comma": b'{"protected":"a","payload":"","signature":"",}',
    "trailing-garbage": b'{"protected":"a","payload":"","signature":""}x',
    "two-objects": b"{}{}",
    "single-quotes": b"{'protected':'a'}",
    "comment": b'{/* */"protected":"a"}',
    "nul-byte": b'{"protected":"a\x00","payload":"","signature":""}',
    "escaped-nul": b'{"protected":"a\\u0000","payload":"","signature":""}',
    "lone-surrogate": b'{"protected":"\\ud800","payload":"","signature":""}',
    "invalid-utf8": b'{"protected":"\xff\xfe","payload":"","signature":""}',
    "overlong-utf8": b'{"protected":"\xc0\xaf","payload":"","signature":""}',
    "utf8-bom": b'\xef\xbb\xbf{"protected":"a","payload":"","signature":""}',
    "utf16": '{"protected":"a"}'.encode("utf-16"),
    "huge-number": b'{"protected":1' + b"0" * 4000 + b"}",
    "nan": b'{"protected":NaN}',
    "nested-3000": nested(3000),
    "nested-objects-2100": b'{"":[' * 1050 + b"1" + b"]}" * 1050,
    "whitespace": b" \t\r\n" * 100,
    "duplicate-members": b'{"protected":"a","protected":"b","payload":"",'
                         b'"signature":""}',
}


@pytest.mark.parametrize("name", sorted(BROKEN_BODIES))
def test_rfc8555_6_2_broken_json_body_is_malformed(raw, name):
    r = post(raw, raw.dir["newAccount"], BROKEN_BODIES[name])
    assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("resource", ["newOrder", "revokeCert", "keyChange"])
def test_rfc8555_6_2_broken_json_on_every_resource_is_malformed(raw,
                                                               resource):
    for body in (b"", b"null", b"{", nested(3000)):
        r = post(raw, raw.dir[resource], body)
        assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_nested_10000_levels_is_malformed_or_413(raw):
    # 20001 octets: above nginx's default client_body_buffer_size (8k),
    # which this stack does not raise (see the known bug below)
    r = post(raw, raw.dir["newAccount"], nested(10000))
    assert_problem_in(r, r.status_code if r.status_code == 413 else 400,
                      ["malformed"])


BODY_BUFFER_BUG = known_bug(
    "bodies between client_body_buffer_size (8k by default on x86_64) "
    "and acme_server_max_body (64k) get 413: conf/nginx.conf.in does not "
    "set client_body_buffer_size and the module does not check it "
    "(ngx_http_acme_server_body_handler: request_body->temp_file)")


@BODY_BUFFER_BUG
def test_rfc8555_6_2_body_under_max_body_is_not_413(raw):
    body = _good_jws(raw)
    body["pad"] = "x" * 30000
    r = post(raw, raw.dir["newAccount"], json.dumps(body))
    assert_problem(r, 400, "malformed")


@BODY_BUFFER_BUG
def test_rfc8555_7_4_new_order_of_100_long_names_is_not_413(raw, account):
    """A legitimate newOrder (100 identifiers, ACME_SRV_MAX_IDENTIFIERS)
    is about 12k of JWS."""
    key, kid = account
    names = ["%03d-%s.bad-input.example.test" % (i, "x" * 40)
             for i in range(100)]
    r = raw.new_order(key, kid, names)
    assert r.status_code == 201, (r.status_code, r.text[:200])


def test_body_over_max_body_is_413(raw):
    body = b'{"protected":"' + b"A" * (MAX_BODY + 16) + b'"}'
    r = post(raw, raw.dir["newAccount"], body)
    assert_problem(r, 413, "malformed")


def test_chunked_body_over_max_body_is_413(raw):
    def chunks():
        yield b'{"protected":"'
        for _ in range(80):                 # 80 x 1k: > 64k
            yield b"A" * 1024
        yield b'"}'
    r = post(raw, raw.dir["newAccount"], chunks())
    assert_problem(r, 413, "malformed")


def _lying_post(http_directory_url, length):
    """POST new-account with a Content-Length of length but a one-octet
    body: the answer must come without the body (bounded reads)."""
    import socket
    from urllib.parse import urlsplit
    u = urlsplit(http_directory_url)
    path = u.path[:-len("directory")] + "new-account"
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %d\r\n\r\n{"
                   % (path, u.netloc, JOSE, length)).encode())
        data = b""
        for _ in range(100):                # bounded: 100 reads
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
                break
    return data


def test_content_length_over_max_body_is_413_problem(http_directory_url):
    """acme_server_max_body refuses from the header alone"""
    data = _lying_post(http_directory_url, 500000)
    assert data.startswith(b"HTTP/1.1 413"), data[:300]
    assert b"replay-nonce:" in data.lower()
    assert b"urn:ietf:params:acme:error:malformed" in data


def test_content_length_over_client_max_body_size_is_413(http_directory_url):
    """above client_max_body_size (1m) nginx answers 413 itself"""
    data = _lying_post(http_directory_url, 10 ** 12)
    assert data.startswith(b"HTTP/1.1 413"), data[:300]


@pytest.mark.parametrize("ct", [
    "application/json", "application/jose+json-evil", "application/jose",
    "text/plain", "application/jose+jsonx", "", "\u00e9".encode(
        "utf-8").decode("latin-1"), "application/jose+json" + " " * 5000],
    ids=["json", "jose-json-evil", "jose", "text", "jose-jsonx", "empty",
         "latin1", "blanks"])
def test_rfc8555_6_2_bad_content_type_is_415_or_4xx(raw, ct):
    r = post(raw, raw.dir["newAccount"], json.dumps(_good_jws(raw)),
             content_type=ct)
    if ct.startswith("application/jose+json") and ct[21:].strip() == "":
        # "application/jose+json" and blanks: may be accepted
        assert r.status_code < 500, r.text
        return
    assert_problem(r, 415, "malformed")


@pytest.mark.parametrize("what", ["one-huge-header", "many-headers",
                                  "huge-url", "huge-cookie",
                                  "huge-content-type"])
def test_oversize_headers_are_4xx(raw, what):
    url = raw.dir["newAccount"]
    headers = {}
    if what == "one-huge-header":
        headers["X-Filler"] = "a" * 100000
    elif what == "many-headers":
        for i in range(2000):
            headers["X-Filler-%d" % i] = "b" * 40
    elif what == "huge-url":
        url = url + "?" + "c" * 100000
    elif what == "huge-cookie":
        headers["Cookie"] = "; ".join("k%d=%s" % (i, "v" * 50)
                                      for i in range(1000))
    else:
        headers["Content-Type"] = JOSE + ";" + "x" * 100000
    try:
        r = post(raw, url, json.dumps(_good_jws(raw)),
                 headers=headers)
    except Exception as e:   # pylint: disable=broad-except
        # nginx may close the connection: not a 5xx, not a crash
        assert "Connection" in type(e).__name__ or "Connection" in str(e), e
        return
    assert_no_5xx(r)


def test_get_and_odd_methods_on_post_resources_are_4xx(raw):
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                   "PROPFIND"):
        r = raw.s.request(method, raw.dir["newAccount"], timeout=TIMEOUT)
        assert_no_5xx(r)


@pytest.mark.parametrize("path", [
    "acct/" + "A" * 5000, "order/%00", "authz/..%2f..%2fdirectory",
    "chall/\u0430\u0430", "cert/" + "%ff" * 100, "new-order/extra",
    "finalize/", "acct/../new-nonce", "acct//x"])
def test_odd_resource_paths_are_4xx_problems(raw, account, path):
    key, kid = account
    url = raw.base + path
    r = raw.post(url, b"", key, kid=kid)
    assert_no_5xx(r)
    if r.headers.get("Content-Type", "").startswith(PROBLEM):
        assert r.headers.get("Replay-Nonce"), r.headers


# --- 2. JWS members: types and base64url --------------------------------

BAD_B64 = {
    "padding": "eyJhIjoxfQ==",
    "plus": "eyJh+joxfQ",
    "slash": "eyJh/joxfQ",
    "space": "eyJh IjoxfQ",
    "newline": "eyJhIjox\nfQ",
    "percent": "eyJh%49joxfQ",
    "one-mod-four": "eyJhIjoxf",
    "non-canonical": "QR",
    "non-ascii": "eyJh\u00e9joxfQ",
    "fullwidth": "\uff45yJhIjoxfQ",
    "dot": "eyJh.IjoxfQ",
    "nul": "eyJh\u0000",
}


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
@pytest.mark.parametrize("bad", sorted(BAD_B64))
def test_rfc8555_6_1_bad_base64url_in_each_member_is_malformed(raw, member,
                                                               bad):
    body = _good_jws(raw)
    body[member] = BAD_B64[bad]
    r = post(raw, raw.dir["newAccount"], json.dumps(body))
    assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
@pytest.mark.parametrize("value", [None, 1, True, [], {}, "missing"],
                         ids=["null", "number", "bool", "array", "object",
                              "missing"])
def test_rfc8555_6_2_jws_member_of_wrong_type_is_malformed(raw, member,
                                                          value):
    body = _good_jws(raw)
    if value == "missing":
        del body[member]
    else:
        body[member] = value
    r = post(raw, raw.dir["newAccount"], json.dumps(body))
    assert_problem(r, 400, "malformed")


def test_rfc8555_6_2_extra_member_is_malformed(raw):
    for extra in ({"header": {}}, {"signatures": []}, {"x": 1},
                  {"\u00e9": 1}, {"": ""}):
        body = _good_jws(raw)
        body.update(extra)
        r = post(raw, raw.dir["newAccount"], json.dumps(body))
        assert_problem(r, 400, "malformed")


PROTECTED_NOT_OBJECT = [b"[]", b'"x"', b"1", b"null", b"", b"{", b"\xff",
                        b'{"alg":"ES256","alg":"ES256"}', nested(3000)]


@pytest.mark.parametrize("prot", PROTECTED_NOT_OBJECT,
                         ids=["array", "string", "number", "null", "empty",
                              "broken", "not-utf8", "duplicate", "nested"])
def test_rfc8555_6_2_protected_header_not_an_object_is_malformed(raw, prot):
    body = _good_jws(raw)
    body["protected"] = b64(prot)
    r = post(raw, raw.dir["newAccount"], json.dumps(body))
    assert_problem(r, 400, "malformed")


HEADER_FIELD_TYPES = [
    ("alg", 256, "malformed"), ("alg", None, "malformed"),
    ("alg", ["ES256"], "malformed"), ("alg", "es256", "badSignatureAlgorithm"),
    ("alg", "ES256 ", "badSignatureAlgorithm"),
    ("alg", "A" * SMALL, "badSignatureAlgorithm"),
    ("alg", "\u0395S256", "badSignatureAlgorithm"),
    ("jwk", "a JWK", "malformed"), ("jwk", [], "malformed"),
    ("jwk", 1, "malformed"), ("jwk", {}, "badPublicKey"),
    ("nonce", 1, "malformed"), ("nonce", {}, "malformed"),
    ("nonce", ["x"], "malformed"), ("url", 1, "malformed"),
    ("url", {"u": 1}, "malformed"), ("url", True, "malformed"),
]


@pytest.mark.parametrize("field,value,name", HEADER_FIELD_TYPES,
                         ids=["%s-%d" % (f, i) for i, (f, _, _)
                              in enumerate(HEADER_FIELD_TYPES)])
def test_rfc8555_6_2_protected_header_field_types(raw, field, value, name):
    hdr = {"alg": "ES256", "nonce": raw.nonce(), "url": raw.dir["newAccount"],
           "jwk": jwk_of(ec_key())}
    hdr[field] = value
    if value is None:
        del hdr[field]
    r = post(raw, raw.dir["newAccount"],
             raw_jws(hdr, {"termsOfServiceAgreed": True}))
    assert_problem(r, 400, name)


@pytest.mark.parametrize("kid", [
    1, [], {}, "", "A" * SMALL, "acct/\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
    "\u00e9\u00e9\u00e9\u00e9\u00e9", "acct/'; DROP TABLE accounts; --",
    "acct/%00%00%00%00%00%00%00", "acct/" + "\u200b" * 7 + "A"],
    ids=["number", "array", "object", "empty", "huge", "utf8-id", "sql",
         "percent", "zero-width"])
def test_rfc8555_6_2_hostile_kid(raw, kid):
    if isinstance(kid, str) and kid.startswith("acct/"):
        # an id of 22 octets (the length the server checks first)
        kid = raw.base + kid
    hdr = {"alg": "ES256", "nonce": raw.nonce(), "url": raw.dir["newOrder"],
           "kid": kid}
    r = post(raw, raw.dir["newOrder"], raw_jws(hdr, {"identifiers": []}))
    if isinstance(kid, str):
        assert_problem(r, 400, "accountDoesNotExist")
    else:
        assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("url", [
    "https://\uff41cme.test/new-account", "\u202enew-account",
    "A" * SMALL, "", "new-account"],
    ids=["fullwidth", "rtl", "huge", "empty", "relative"])
def test_rfc8555_6_4_hostile_url_is_unauthorized(raw, url):
    key = ec_key()
    body = sign_custom(raw, url, {"jwk": jwk_of(key)},
                       b'{"termsOfServiceAgreed":true}', key)
    r = post(raw, raw.dir["newAccount"], body)
    assert_problem(r, 403, "unauthorized")


@pytest.mark.parametrize("nonce", [
    "", "A", "A" * 43, "A" * SMALL, "\u00e9" * 43, "+/+/" * 11, "=" * 44],
    ids=["empty", "one", "zeros", "huge", "non-ascii", "not-b64url",
         "padding"])
def test_rfc8555_6_5_hostile_nonce_is_bad_nonce_or_malformed(raw, nonce):
    key = ec_key()
    body = sign_custom(raw, raw.dir["newAccount"],
                       {"jwk": jwk_of(key), "nonce": nonce},
                       b'{"termsOfServiceAgreed":true}', key)
    r = post(raw, raw.dir["newAccount"], body)
    # RFC 8555 6.5: badNonce; a nonce that is not base64url may be
    # malformed (6.5.1)
    assert_problem_in(r, 400, ["badNonce", "malformed"])


# --- 3. keys: hostile JWKs ----------------------------------------------

def _ec_jwk(**over):
    j = jwk_of(ec_key())
    j.update(over)
    return {k: v for k, v in j.items() if v is not None}


def _rsa_n(bits, first=0xc5):
    n = bytes([first]) + os.urandom(bits // 8 - 1)
    return b64(n[:-1] + bytes([n[-1] | 1]))


def _p256_off_curve():
    j = jwk_of(ec_key())
    x = jose.b64decode(j["x"])
    y = bytearray(jose.b64decode(j["y"]))
    y[-1] ^= 1                  # (x, y^1) is not on P-256
    return dict(j, x=b64(x), y=b64(bytes(y)))


HOSTILE_JWKS = {
    "rsa-16384-bit": {"kty": "RSA", "e": "AQAB", "n": _rsa_n(16384)},
    "rsa-8200-bit": {"kty": "RSA", "e": "AQAB", "n": _rsa_n(8200)},
    "rsa-1024-bit": jwk_of(rsa_key(1024)),
    "rsa-2047-bit": {"kty": "RSA", "e": "AQAB", "n": _rsa_n(2048, 0x7f)},
    "rsa-e-even": dict(jwk_of(rsa_key()), e="AQAA"),
    "rsa-e-1": dict(jwk_of(rsa_key()), e="AQ"),
    "rsa-e-huge": dict(jwk_of(rsa_key()), e=b64(b"\x01" * 64)),
    "rsa-leading-zero": {"kty": "RSA", "e": "AQAB",
                         "n": b64(b"\0" + os.urandom(256))},
    "rsa-n-number": {"kty": "RSA", "e": "AQAB", "n": 12345},
    "rsa-private-d": dict(jwk_of(rsa_key()), d="AQAB"),
    "rsa-private-p-q": dict(jwk_of(rsa_key()), p="AQAB", q="AQAB"),
    "ec-off-curve": _p256_off_curve(),
    "ec-zero-point": _ec_jwk(x=b64(b"\0" * 32), y=b64(b"\0" * 32)),
    "ec-x-is-p": _ec_jwk(x=b64(bytes.fromhex(
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"))),
    "ec-short-x": _ec_jwk(x=b64(b"\1" * 31)),
    "ec-long-y": _ec_jwk(y=b64(b"\1" * 33)),
    "ec-p256-point-as-p384": _ec_jwk(crv="P-384"),
    "ec-crv-p192": _ec_jwk(crv="P-192"),
    "ec-crv-secp256k1": _ec_jwk(crv="secp256k1"),
    "ec-crv-missing": _ec_jwk(crv=None),
    "ec-crv-number": _ec_jwk(crv=256),
    "ec-private-d": _ec_jwk(d=b64(os.urandom(32))),
    "ec-x-padding": _ec_jwk(x=jwk_of(ec_key())["x"] + "="),
    "okp-x25519": {"kty": "OKP", "crv": "X25519", "x": b64(b"\1" * 32)},
    "okp-ed448": {"kty": "OKP", "crv": "Ed448", "x": b64(b"\1" * 57)},
    "okp-short": {"kty": "OKP", "crv": "Ed25519", "x": b64(b"\1" * 31)},
    "oct": {"kty": "oct", "k": b64(b"secret")},
    "kty-unknown": {"kty": "DSA", "y": "AQAB"},
    "kty-array": {"kty": ["EC"], "crv": "P-256"},
    "kty-missing": {"crv": "P-256", "x": "AA", "y": "AA"},
    "empty": {},
    "kty-nul": {"kty": "EC\u0000", "crv": "P-256"},
}


@pytest.mark.parametrize("name", sorted(HOSTILE_JWKS))
def test_rfc8555_6_7_hostile_jwk_is_bad_public_key(raw, name):
    jwk = HOSTILE_JWKS[name]
    alg = "RS256" if jwk.get("kty") == "RSA" else "ES256"
    hdr = {"alg": alg, "nonce": raw.nonce(), "url": raw.dir["newAccount"],
           "jwk": jwk}
    r = post(raw, raw.dir["newAccount"],
             raw_jws(hdr, {"termsOfServiceAgreed": True},
                     signature=b"\1" * 256))
    if name == "kty-nul":
        # jansson refuses \u0000 in strings: the header does not parse
        assert_problem(r, 400, "malformed")
    else:
        assert_problem(r, 400, "badPublicKey")


def test_rfc8555_6_2_ec_key_with_rsa_alg_is_bad_signature_algorithm(raw):
    hdr = {"alg": "RS256", "nonce": raw.nonce(), "url": raw.dir["newAccount"],
           "jwk": jwk_of(ec_key())}
    r = post(raw, raw.dir["newAccount"],
             raw_jws(hdr, {"termsOfServiceAgreed": True}))
    assert_problem(r, 400, "badSignatureAlgorithm")


DER_SIG = b"0D\x02 " + b"\1" * 32 + b"\x02 " + b"\1" * 32


@pytest.mark.parametrize("sig", [b"", b"\0" * 64, b"\xff" * 64, b"\1" * 63,
                                 b"\1" * 65, b"\1" * 5000, DER_SIG],
                         ids=["empty", "zero", "ff-order", "short", "long",
                              "huge", "der"])
def test_rfc8555_6_2_hostile_es256_signature_is_malformed(raw, sig):
    key = ec_key()
    body = json.loads(sign_custom(raw, raw.dir["newAccount"],
                                  {"jwk": jwk_of(key)},
                                  b'{"termsOfServiceAgreed":true}', key))
    body["signature"] = b64(sig)
    r = post(raw, raw.dir["newAccount"], json.dumps(body))
    assert_problem(r, 400, "malformed")


# --- 4. payloads: wrong types for every field ---------------------------

def _new_account(raw, payload, key=None):
    key = key or ec_key()
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    return raw.post(raw.dir["newAccount"], payload, key)


PAYLOAD_NOT_OBJECT = {
    "null": b"null", "string": b'"x"', "number": b"1", "true": b"true",
    "array": b"[]", "array-of-object": b'[{"termsOfServiceAgreed":true}]',
    "broken": b"{", "not-utf8": b'{"contact":["\xff"]}',
    "escaped-nul": b'{"contact":["mailto:a\\u0000@example.test"]}',
    "duplicate": b'{"termsOfServiceAgreed":true,"termsOfServiceAgreed":'
                 b'false}',
    "nested-2100": b'{"contact":' + nested(2100) + b"}",
    "trailing": b'{"termsOfServiceAgreed":true} {}',
}


@pytest.mark.parametrize("name", sorted(PAYLOAD_NOT_OBJECT))
def test_rfc8555_7_3_new_account_payload_not_an_object_is_malformed(raw,
                                                                    name):
    r = _new_account(raw, PAYLOAD_NOT_OBJECT[name])
    assert_problem(r, 400, "malformed")


def test_rfc8555_7_3_new_account_post_as_get_is_malformed(raw):
    r = _new_account(raw, b"")
    assert_problem(r, 400, "malformed")


NEW_ACCOUNT_FIELDS = [
    ({"contact": "mailto:a@example.test"}, "malformed"),
    ({"contact": 5}, "malformed"),
    ({"contact": {"mailto": "a@example.test"}}, "malformed"),
    ({"contact": True}, "malformed"),
    ({"contact": None}, "malformed"),
    ({"contact": [5]}, "malformed"),
    ({"contact": [None]}, "malformed"),
    ({"contact": [["mailto:a@example.test"]]}, "malformed"),
    ({"contact": [{}]}, "malformed"),
    ({"contact": ["https://example.test/"]}, "unsupportedContact"),
    ({"contact": ["tel:+15555550100"]}, "unsupportedContact"),
    ({"contact": ["MAILTO:a@example.test"]}, "unsupportedContact"),
    ({"contact": ["mailto:"]}, "invalidContact"),
    ({"contact": ["mailto:a@example.test,b@example.test"]},
     "invalidContact"),
    ({"contact": ["mailto:a@example.test?subject=x"]}, "invalidContact"),
    ({"contact": ["mailto:a@example.test\r\nBcc: b@example.test"]},
     "invalidContact"),
    ({"contact": ["mailto:" + "a" * 300 + "@example.test"]},
     "invalidContact"),
    ({"contact": ["mailto:a%d@example.test" % i for i in range(11)]},
     "invalidContact"),
    ({"contact": ["mailto:a@example.test"] * 100}, "invalidContact"),
    ({"termsOfServiceAgreed": "true"}, "malformed"),
    ({"termsOfServiceAgreed": 1}, "malformed"),
    ({"termsOfServiceAgreed": None}, "malformed"),
    ({"termsOfServiceAgreed": [True]}, "malformed"),
    ({"onlyReturnExisting": "yes"}, "malformed"),
    ({"onlyReturnExisting": 1}, "malformed"),
    ({"onlyReturnExisting": {}}, "malformed"),
    ({"onlyReturnExisting": True}, "accountDoesNotExist"),
]


@pytest.mark.parametrize("fields,name", NEW_ACCOUNT_FIELDS,
                         ids=["%02d-%s" % (i, list(f)[0]) for i, (f, _)
                              in enumerate(NEW_ACCOUNT_FIELDS)])
def test_rfc8555_7_3_new_account_field_types(raw, fields, name):
    payload = {"termsOfServiceAgreed": True}
    payload.update(fields)
    r = _new_account(raw, payload)
    assert_problem(r, 400, name)


@pytest.fixture(scope="module")
def strict_raw(session, directory_url):
    """The stack's second CA (EAB required, conf/nginx.conf.in)."""
    url = directory_url.replace("/acme/directory", "/strict/directory")
    r = session.get(url, timeout=TIMEOUT)
    assert r.status_code == 200, "the stack serves no /strict/ CA"
    return Raw(session, url)


@pytest.mark.parametrize("eab", [
    "x", 1, [], None, {}, {"protected": 1, "payload": "", "signature": ""},
    {"protected": b64("{}"), "payload": "", "signature": ""},
    {"protected": b64(json.dumps({"alg": "HS256", "kid": "k" * 2500,
                                  "url": "x"})),
     "payload": "", "signature": ""}],
    ids=["string", "number", "array", "null", "empty", "bad-types",
         "empty-header", "huge-kid"])
def test_rfc8555_7_3_4_external_account_binding_types(strict_raw, eab):
    key = ec_key()
    payload = {"termsOfServiceAgreed": True,
               "contact": ["mailto:a@example.test"],
               "externalAccountBinding": eab}
    r = strict_raw.post(strict_raw.dir["newAccount"], payload, key)
    assert_problem_in(r, r.status_code if r.status_code in (400, 403)
                      else 400, ["malformed", "unauthorized",
                                 "badSignatureAlgorithm",
                                 "externalAccountRequired"])


def _ident(value, typ="dns"):
    return {"identifiers": [{"type": typ, "value": value}]}


NEW_ORDER_FIELDS = [
    ({"identifiers": {"type": "dns", "value": "a.example.test"}},
     "malformed"),
    ({"identifiers": "a.example.test"}, "malformed"),
    ({"identifiers": 1}, "malformed"),
    ({"identifiers": None}, "malformed"),
    ({"identifiers": []}, "malformed"),
    ({}, "malformed"),
    ({"identifiers": ["a.example.test"]}, "malformed"),
    ({"identifiers": [1]}, "malformed"),
    ({"identifiers": [None]}, "malformed"),
    ({"identifiers": [[]]}, "malformed"),
    ({"identifiers": [{}]}, "malformed"),
    ({"identifiers": [{"type": "dns"}]}, "malformed"),
    ({"identifiers": [{"value": "a.example.test"}]}, "malformed"),
    ({"identifiers": [{"type": 1, "value": "a.example.test"}]},
     "malformed"),
    ({"identifiers": [{"type": "dns", "value": 1}]}, "malformed"),
    ({"identifiers": [{"type": "dns", "value": None}]}, "malformed"),
    ({"identifiers": [{"type": "dns", "value": ["a.example.test"]}]},
     "malformed"),
    ({"identifiers": [{"type": ["dns"], "value": "a.example.test"}]},
     "malformed"),
    (_ident("a.example.test", "email"), "unsupportedIdentifier"),
    (_ident("a.example.test", "DNS"), "unsupportedIdentifier"),
    (_ident("a.example.test", ""), "unsupportedIdentifier"),
    (_ident("a.example.test", "d" * SMALL), "unsupportedIdentifier"),
    ({"identifiers": [{"type": "dns", "value": "h%d.a.test" % i}
                      for i in range(101)]}, "rejectedIdentifier"),
    (dict(_ident("a.example.test"), notBefore="x"), "malformed"),
    (dict(_ident("a.example.test"), notAfter=1), "malformed"),
    (dict(_ident("a.example.test"), notBefore="2030-01-01T00:00:00Z"),
     "malformed"),
]


@pytest.mark.parametrize("payload,name", NEW_ORDER_FIELDS,
                         ids=["%02d" % i for i in range(
                             len(NEW_ORDER_FIELDS))])
def test_rfc8555_7_4_new_order_field_types(raw, account, payload, name):
    key, kid = account
    r = raw.post(raw.dir["newOrder"], payload, key, kid=kid)
    assert_problem(r, 400, name)


@pytest.mark.parametrize("payload", [b"", b"null", b"[]", b"1", b"{",
                                     b'"identifiers"', nested(2100)],
                         ids=["post-as-get", "null", "array", "number",
                              "broken", "string", "nested"])
def test_rfc8555_7_4_new_order_payload_not_an_object_is_malformed(
        raw, account, payload):
    key, kid = account
    r = raw.post(raw.dir["newOrder"], payload, key, kid=kid)
    assert_problem(r, 400, "malformed")


# Unicode tricks and other non-LDH names (RFC 8555 7.1.4: ASCII, A-labels)
UNICODE_NAMES = {
    "fullwidth-dot": "example\uff0etest",
    "ideographic-dot": "example\u3002test",
    "zero-width-space": "exa\u200bmple.test",
    "zero-width-joiner": "exa\u200dmple.test",
    "soft-hyphen": "exa\u00admple.test",
    "cyrillic-e": "\u0435xample.test",
    "greek-omicron": "bad-input.\u03bfxample.test",
    "u-label": "b\u00fccher.example.test",
    "rtl-override": "\u202etset.elpmaxe",
    "combining": "e\u0301xample.test",
    "bom": "\ufeffexample.test",
    "fullwidth-latin": "\uff45xample.test",
    "nbsp": "example.test\u00a0",
    "emoji": "\U0001f600.example.test",
    "percent": "example%2etest",
    "backslash": "example\\.test",
    "space": "exa mple.test",
    "underscore": "_acme.example.test",
    "trailing-dot": "example.test.",
    "leading-dot": ".example.test",
    "double-dot": "example..test",
    "double-wildcard": "*.*.example.test",
    "inner-wildcard": "a.*.example.test",
    "partial-wildcard": "a*.example.test",
    "ip-as-dns": "192.0.2.1",
    "label-64": "a" * 64 + ".example.test",
    "name-254": ".".join(["a" * 62] * 4) + ".te",
    "hyphen-start": "-a.example.test",
    "hyphen-end": "a-.example.test",
    "numeric-tld": "example.123",
    "single-label": "localhost",
    "empty": "",
    "url": "https://example.test/",
    "at": "user@example.test",
    "port": "example.test:443",
}


@pytest.mark.parametrize("name", sorted(UNICODE_NAMES))
def test_rfc8555_7_1_4_unicode_and_non_ldh_names_are_rejected(raw, account,
                                                             name):
    key, kid = account
    r = raw.post(raw.dir["newOrder"], _ident(UNICODE_NAMES[name]), key,
                 kid=kid)
    assert_problem(r, 400, "rejectedIdentifier")


BAD_IPS = ["192.0.2.1/24", "fe80::1%eth0", "01.2.3.4", "1.2.3", "1.2.3.4.5",
           "256.1.1.1", "::g", "1:2:3:4:5:6:7:8:9", "[::1]", "0x7f.0.0.1",
           "192.0.2.1 ", " 192.0.2.1", "\uff11\uff19\uff12.0.2.1",
           "192\u30020.2.1", "", "example.test", "1" * 100]


@pytest.mark.parametrize("value", BAD_IPS,
                         ids=["%02d" % i for i in range(len(BAD_IPS))])
def test_rfc8738_3_bad_ip_identifier_is_malformed(raw, account, value):
    key, kid = account
    r = raw.post(raw.dir["newOrder"], _ident(value, "ip"), key, kid=kid)
    assert_problem_in(r, 400, ["malformed", "rejectedIdentifier"])


ACCOUNT_UPDATE_FIELDS = [
    ({"contact": "mailto:a@example.test"}, "malformed"),
    ({"contact": 1}, "malformed"),
    ({"contact": [1]}, "malformed"),
    ({"contact": ["ftp://x"]}, "unsupportedContact"),
    ({"status": 1}, "malformed"),
    ({"status": True}, "malformed"),
    ({"status": ["deactivated"]}, "malformed"),
]


@pytest.mark.parametrize("status", ["valid", "revoked", "DEACTIVATED"])
def test_rfc8555_7_3_2_account_status_other_than_deactivated_is_ignored(
        raw, account, status):
    key, kid = account
    r = raw.post(kid, {"status": status}, key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "valid"


@pytest.mark.parametrize("payload,name", ACCOUNT_UPDATE_FIELDS,
                         ids=["%02d" % i for i in range(
                             len(ACCOUNT_UPDATE_FIELDS))])
def test_rfc8555_7_3_2_account_update_field_types(raw, account, payload,
                                                  name):
    key, kid = account
    r = raw.post(kid, payload, key, kid=kid)
    assert_problem(r, 400, name)


def test_rfc8555_7_3_2_account_update_not_an_object_is_malformed(raw,
                                                                 account):
    key, kid = account
    for payload in (b"[]", b"null", b"1", b"{"):
        r = raw.post(kid, payload, key, kid=kid)
        assert_problem(r, 400, "malformed")
    # the account is untouched
    r = raw.post(kid, b"", key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text


@pytest.mark.parametrize("payload", [
    {"status": 1}, {"status": "valid"}, {"status": None}, {"status": {}},
    {}, []],
    ids=["number", "valid", "null", "object", "empty", "array"])
def test_rfc8555_7_5_2_authz_update_types_are_malformed(raw, account,
                                                        pending, payload):
    key, kid = account
    authz = pending[0]["authorizations"][0]
    r = raw.post(authz, payload if payload != [] else b"[]", key, kid=kid)
    assert_problem(r, 400, "malformed")


@pytest.mark.parametrize("payload", [b"[]", b"[{}]", b"null", b"1", b"{"],
                         ids=["array", "array-of-object", "null", "number",
                              "broken"])
def test_rfc8555_7_5_1_challenge_response_not_an_object_is_malformed(
        raw, account, pending, payload):
    key, kid = account
    authz = raw.post(pending[0]["authorizations"][0], b"", key, kid=kid)
    assert authz.status_code == 200, authz.text
    chall = authz.json()["challenges"][0]["url"]
    r = raw.post(chall, payload, key, kid=kid)
    assert_problem(r, 400, "malformed")


FINALIZE_NOT_READY = [{"csr": 1}, {"csr": None}, {"csr": {}}, {}, []]


@pytest.mark.parametrize("payload", FINALIZE_NOT_READY,
                         ids=["number", "null", "object", "missing",
                              "array"])
def test_rfc8555_7_4_finalize_pending_order_is_order_not_ready(
        raw, account, pending, payload):
    key, kid = account
    r = raw.post(pending[0]["finalize"], payload if payload != [] else
                 b"[]", key, kid=kid)
    # RFC 8555 7.4: the order is checked first, whatever the payload
    assert_problem(r, 403, "orderNotReady")


REVOKE_FIELDS = [
    ({}, "malformed"),
    ({"certificate": 1}, "malformed"),
    ({"certificate": None}, "malformed"),
    ({"certificate": ["MII"]}, "malformed"),
    ({"certificate": "+/+/"}, "malformed"),
    ({"certificate": "MIIB=="}, "malformed"),
    ({"certificate": b64(b"\x30\x82\x01\x00" + b"\0" * 10)}, "malformed"),
    ({"certificate": b64(os.urandom(2000))}, "malformed"),
    ({"certificate": b64(b"x"), "reason": "1"}, "badRevocationReason"),
    ({"certificate": b64(b"x"), "reason": 1.0}, "badRevocationReason"),
    ({"certificate": b64(b"x"), "reason": None}, "badRevocationReason"),
    ({"certificate": b64(b"x"), "reason": 2}, "badRevocationReason"),
    ({"certificate": b64(b"x"), "reason": 7}, "badRevocationReason"),
    ({"certificate": b64(b"x"), "reason": -1}, "badRevocationReason"),
    ({"certificate": b64(b"x"), "reason": 2 ** 63 - 1},
     "badRevocationReason"),
]


@pytest.mark.parametrize("payload,name", REVOKE_FIELDS,
                         ids=["%02d" % i for i in range(len(REVOKE_FIELDS))])
def test_rfc8555_7_6_revoke_field_types(raw, account, payload, name):
    key, kid = account
    r = raw.post(raw.dir["revokeCert"], payload, key, kid=kid)
    assert_problem(r, 400, name)


@known_bug("revokeCert casts \"reason\" to int before checking it "
           "(src/server/acme_srv.c, acme_srv_revoke: (int) "
           "json_integer_value(v)): 2^32 + 1 is taken as reason 1")
@pytest.mark.parametrize("reason", [2 ** 32 + 1, 2 ** 32 + 4, -(2 ** 32),
                                    -2 ** 63])
def test_rfc8555_7_6_revoke_reason_beyond_int_is_bad_revocation_reason(
        raw, account, reason):
    key, kid = account
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(b"x"),
                                         "reason": reason}, key, kid=kid)
    assert_problem(r, 400, "badRevocationReason")


def test_rfc8555_7_6_revoke_with_hostile_jwk_is_bad_public_key(raw):
    hdr = {"alg": "ES256", "nonce": raw.nonce(), "url": raw.dir["revokeCert"],
           "jwk": HOSTILE_JWKS["ec-off-curve"]}
    r = post(raw, raw.dir["revokeCert"],
             raw_jws(hdr, {"certificate": b64(b"x")}))
    assert_problem(r, 400, "badPublicKey")


def _inner(raw, url, new_key, payload, extra=None, alg="ES256"):
    hdr = {"jwk": jwk_of(new_key), "url": url, "nonce": None}
    hdr.update(extra or {})
    return sign_custom(raw, url, hdr, payload, new_key, alg=alg)


KEY_CHANGE_CASES = ["payload-array", "payload-empty-object", "inner-not-jws",
                    "inner-kid", "inner-nonce", "inner-other-url",
                    "inner-private-jwk", "inner-off-curve", "inner-bad-sig",
                    "inner-payload-array", "inner-account-number",
                    "inner-oldkey-string", "inner-oldkey-private",
                    "inner-nested", "inner-huge-account"]


@pytest.mark.parametrize("case", KEY_CHANGE_CASES)
def test_rfc8555_7_3_5_key_change_hostile_inner_jws(raw, account, case):
    key, kid = account
    url = raw.dir["keyChange"]
    new = ec_key()
    good = {"account": kid, "oldKey": jwk_of(key)}
    expect = "malformed"
    if case == "payload-array":
        payload = b"[]"
    elif case == "payload-empty-object":
        payload = b"{}"
    elif case == "inner-not-jws":
        payload = json.dumps({"protected": 1}).encode()
    elif case == "inner-kid":
        payload = _inner(raw, url, new, json.dumps(good).encode(),
                         {"jwk": None, "kid": kid}).encode()
    elif case == "inner-nonce":
        payload = _inner(raw, url, new, json.dumps(good).encode(),
                         {"nonce": raw.nonce()}).encode()
    elif case == "inner-other-url":
        payload = _inner(raw, raw.dir["newOrder"], new,
                         json.dumps(good).encode()).encode()
    elif case == "inner-private-jwk":
        payload = _inner(raw, url, new, json.dumps(good).encode(),
                         {"jwk": dict(jwk_of(new), d="AAAA")}).encode()
        expect = "badPublicKey"
    elif case == "inner-off-curve":
        payload = _inner(raw, url, new, json.dumps(good).encode(),
                         {"jwk": HOSTILE_JWKS["ec-off-curve"]}).encode()
        expect = "badPublicKey"
    elif case == "inner-bad-sig":
        body = json.loads(_inner(raw, url, new, json.dumps(good).encode()))
        body["signature"] = b64(b"\1" * 64)
        payload = json.dumps(body).encode()
    elif case == "inner-payload-array":
        payload = _inner(raw, url, new, b"[]").encode()
    elif case == "inner-account-number":
        payload = _inner(raw, url, new, json.dumps(
            dict(good, account=1)).encode()).encode()
    elif case == "inner-oldkey-string":
        payload = _inner(raw, url, new, json.dumps(
            dict(good, oldKey="key")).encode()).encode()
    elif case == "inner-oldkey-private":
        payload = _inner(raw, url, new, json.dumps(
            dict(good, oldKey=dict(jwk_of(key), d="AAAA"))).encode()).encode()
    elif case == "inner-nested":
        payload = _inner(raw, url, new, b'{"account":' + nested(1500)
                         + b"}").encode()
    else:
        payload = _inner(raw, url, new, json.dumps(
            dict(good, account="A" * 2000)).encode()).encode()
    r = raw.post(url, payload, key, kid=kid)
    assert_problem(r, 400, expect)
    # the account still answers to its old key
    r = raw.post(kid, b"", key, kid=kid)
    assert r.status_code == 200, r.text


# --- 5. finalize: garbage and hostile CSRs ------------------------------

READY_NAME = "ready.bad-input.example.test"


def _make_ready(raw, http01_port, name):
    """(key, kid, order URL, finalize URL) of a new ready order for name,
    its http-01 challenge answered by a responder of our own."""
    key, kid = raw.new_account()
    r = raw.new_order(key, kid, [name])
    assert r.status_code == 201, r.text
    order_url, order = r.headers["Location"], r.json()
    authz = raw.post(order["authorizations"][0], b"", key, kid=kid).json()
    ch = next(c for c in authz["challenges"] if c["type"] == "http-01")
    thumb = b64(key.thumbprint())
    with Http01Server(http01_port,
                      {ch["token"]: ch["token"] + "." + thumb}):
        r = raw.post(ch["url"], {}, key, kid=kid)
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:          # bounded: 60 s
            status = raw.post(order_url, b"", key, kid=kid).json()["status"]
            if status != "pending":
                break
            time.sleep(0.5)
        assert status == "ready", status
    return key, kid, order_url, order["finalize"]


@pytest.fixture(scope="module")
def ready(raw, http01_port):
    """A ready order for READY_NAME, shared: finalize requests with bad
    CSRs must leave it ready."""
    return _make_ready(raw, http01_port, READY_NAME)


def _finalize(raw, ready, payload):
    key, kid, _, fin = ready
    return raw.post(fin, payload, key, kid=kid)


def _csr(names=(READY_NAME,), key=None, cn=None, extra=(), sans=True,
         cn_list=None, sig_hash=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, c)
             for c in (cn_list or ([cn] if cn else []))]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    gens = [x509.DNSName(n) for n in names] + list(extra)
    if sans and gens:
        b = b.add_extension(x509.SubjectAlternativeName(gens),
                            critical=False)
    return b.sign(key, sig_hash or hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


def _flip(der, at):
    d = bytearray(der)
    d[at] ^= 0x01
    return bytes(d)


def _hostile_csrs(account_key):
    ok = _csr()
    many = _csr(["h%d.a.test" % i for i in range(120)])
    return {
        "empty": b"",
        "garbage": os.urandom(300),
        "truncated": ok[:-10],
        "trailing-octets": ok + b"\0\0",
        "bad-signature": _flip(ok, len(ok) - 3),
        "bad-signature-tbs": _flip(ok, 40),
        "certificate-not-csr": _self_signed(),
        "pem-not-der": _csr_pem(),
        # no SAN and the CN an identifier is a valid request (RFC 8555
        # 7.4); a CN that is not one is hostile
        "no-san": _csr(sans=False, cn="evil.example.test"),
        "extra-name": _csr([READY_NAME, "other.example.test"]),
        "missing-name": _csr(["other.example.test"]),
        "uppercase-extra": _csr([READY_NAME, "EVIL.example.test"]),
        "cn-not-san": _csr(cn="evil.example.test"),
        "san-120": many,
        "email-san": _csr(extra=[x509.RFC822Name("a@example.test")]),
        "uri-san": _csr(extra=[x509.UniformResourceIdentifier(
            "https://example.test/")]),
        "ip-san": _csr(extra=[x509.IPAddress(
            __import__("ipaddress").ip_address("192.0.2.1"))]),
        "dirname-san": _csr(extra=[x509.DirectoryName(x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, READY_NAME)]))]),
        "rid-san": _csr(extra=[x509.RegisteredID(
            ObjectIdentifier("1.2.3.4"))]),
        "othername-san": _csr(extra=[x509.OtherName(
            ObjectIdentifier("1.3.6.1.5.5.7.8.7"), b"\x16\x04test")]),
        "wildcard-san": _csr(["*.bad-input.example.test"]),
        "nul-in-san": _csr([READY_NAME + "\0.evil.test"]),
        "account-key": _csr(key=account_key),
        "rsa-1024": _csr(key=rsa.generate_private_key(65537, 1024)),
        "p521": _csr(key=ec.generate_private_key(ec.SECP521R1())),
    }


def _self_signed():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, READY_NAME)])
    import datetime
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def _csr_pem():
    der = _csr()
    return (b"-----BEGIN CERTIFICATE REQUEST-----\n"
            + base64.encodebytes(der)
            + b"-----END CERTIFICATE REQUEST-----\n")


HOSTILE_CSR_NAMES = [
    "empty", "garbage", "truncated", "trailing-octets", "bad-signature",
    "bad-signature-tbs", "certificate-not-csr", "pem-not-der", "no-san",
    "extra-name", "missing-name", "uppercase-extra", "cn-not-san",
    "san-120", "email-san", "uri-san", "ip-san", "dirname-san",
    "rid-san", "othername-san", "wildcard-san", "nul-in-san", "account-key",
    "rsa-1024", "p521"]


@pytest.fixture(scope="module")
def hostile_csrs(ready):
    return _hostile_csrs(ready[0].key._wrapped)


@pytest.mark.parametrize("name", HOSTILE_CSR_NAMES)
def test_rfc8555_7_4_hostile_csr_is_bad_csr(raw, ready, hostile_csrs, name):
    der = hostile_csrs[name]
    r = _finalize(raw, ready, {"csr": b64(der)})
    assert_problem(r, 400, "badCSR")
    # the order is still ready: a bad CSR changes nothing
    key, kid, order_url, _ = ready
    o = raw.post(order_url, b"", key, kid=kid).json()
    assert o["status"] == "ready", o


FINALIZE_FIELDS = [
    ({"csr": 1}, "malformed"), ({"csr": None}, "malformed"),
    ({"csr": {"der": "x"}}, "malformed"), ({"csr": ["x"]}, "malformed"),
    ({"csr": True}, "malformed"), ({}, "malformed"),
    ({"csr": "+/+/"}, "malformed"), ({"csr": "MIIB=="}, "malformed"),
    ({"csr": "A"}, "malformed"), ({"csr": "\u00e9\u00e9"}, "malformed"),
    ({"csr": ""}, "badCSR"),
]


@pytest.mark.parametrize("payload,name", FINALIZE_FIELDS,
                         ids=["%02d" % i for i in range(
                             len(FINALIZE_FIELDS))])
def test_rfc8555_7_4_finalize_field_types(raw, ready, payload, name):
    r = _finalize(raw, ready, payload)
    assert_problem(r, 400, name)


def test_rfc8555_7_4_finalize_payload_not_an_object_is_malformed(raw, ready):
    for payload in (b"[]", b"null", b"1", b"{", b'"csr"', nested(2100)):
        r = _finalize(raw, ready, payload)
        assert_problem(r, 400, "malformed")


def test_rfc8555_7_4_csr_with_10000_sans_is_413_or_bad_csr(raw, ready):
    der = _csr(["h%05d.example.test" % i for i in range(10000)])
    r = _finalize(raw, ready, {"csr": b64(der)})
    # about 230 kB of DER: over acme_server_max_body
    assert_problem_in(r, 413 if r.status_code == 413 else 400,
                      ["malformed", "badCSR"])


@known_bug("a CSR whose subject has two CNs, the second not an identifier "
           "of the order, is accepted: acme_csr_names_check() looks at the "
           "first CN only (src/acme/acme_csr.c, X509_NAME_get_text_by_NID); "
           "RFC 8555 7.4: the CSR must request exactly the order's names")
def test_rfc8555_7_4_csr_with_second_cn_is_bad_csr(raw, http01_port):
    name = "two-cns.bad-input.example.test"
    rd = _make_ready(raw, http01_port, name)
    der = _csr([name], cn_list=[name, "evil.example.test"])
    r = _finalize(raw, rd, {"csr": b64(der)})
    assert_problem(r, 400, "badCSR")


def test_ready_order_survived_and_finalizes(raw, ready):
    """After all the bad CSRs, a good one still gets the certificate."""
    key, kid, order_url, _ = ready
    r = _finalize(raw, ready, {"csr": b64(_csr())})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    o = r.json()
    while o["status"] == "processing" and time.monotonic() < deadline:
        time.sleep(0.5)
        o = raw.post(order_url, b"", key, kid=kid).json()
    assert o["status"] == "valid", o
