"""Helpers shared by the test_rfc8555_*.py suites (no tests here).

The RFC 8555 suite is indexed by t/RFC8555.md: one row per server-side
requirement of sections 6 and 7, naming its test or the reason it has
none. The helpers build requests that break exactly one rule and drive
orders to a given state, by the protocol where it can and through the
stack's PostgreSQL where a state cannot be reached in a test's time
(an expired authorization, an order left "processing")."""

import json
import subprocess
import time

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acmehelp import JOSE, b64, csr_der

TIMEOUT = 30

# RFC 8555 9.7.4 (the initial ACME error types registry)
REGISTERED_ERRORS = frozenset([
    "accountDoesNotExist", "alreadyRevoked", "badCSR", "badNonce",
    "badPublicKey", "badRevocationReason", "badSignatureAlgorithm", "caa",
    "compound", "connection", "dns", "externalAccountRequired",
    "incorrectResponse", "invalidContact", "malformed", "orderNotReady",
    "rateLimited", "rejectedIdentifier", "serverInternal", "tls",
    "unauthorized", "unsupportedContact", "unsupportedIdentifier",
    "userActionRequired"])


def jwk_of(key):
    """The public JWK (a dict) of a josepy key."""
    return json.loads(key.public_key().json_dumps())


def sign_custom(raw, url, protected, payload, key, alg="ES256"):
    """A correctly signed flattened JWS (JSON text) with any protected
    header: alg, nonce and url are filled in unless given; a value of
    None removes the member. payload: raw octets."""
    hdr = {"alg": alg, "nonce": raw.nonce(), "url": url}
    hdr.update(protected)
    hdr = {k: v for k, v in hdr.items() if v is not None}
    prot = b64(json.dumps(hdr))
    pay = b64(payload)
    sig = getattr(jose, alg).sign(key.key, (prot + "." + pay).encode())
    return json.dumps({"protected": prot, "payload": pay,
                       "signature": b64(sig)})


def post_body(raw, url, body, content_type=JOSE, headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return raw.s.post(url, data=body, headers=h, timeout=TIMEOUT)


def last(url):
    """The last path segment of a resource URL (its public id)."""
    return url.rstrip("/").rsplit("/", 1)[1]


def sql(stack_env, query):
    """Runs one statement on the stack's database; returns the output."""
    return subprocess.run(
        ["psql", stack_env["ACME_DB_CONNINFO"], "-qAtc", query],
        capture_output=True, text=True, check=True, timeout=30).stdout


def thumbprint(key):
    return jose.b64encode(key.public_key().thumbprint()).decode()


def answer_http01(raw, http01_server, key, kid, authz_url, payload=None):
    """Serves the key authorization of the authz's http-01 challenge and
    responds to it; returns the challenge response (requests.Response)."""
    a = raw.post(authz_url, b"", key, kid=kid).json()
    ch = next(c for c in a["challenges"] if c["type"] == "http-01")
    http01_server[ch["token"]] = ch["token"] + "." + thumbprint(key)
    r = raw.post(ch["url"], {} if payload is None else payload, key,
                 kid=kid)
    assert r.status_code == 200, r.text
    return r


def poll(raw, key, kid, url, until=("pending", "processing"), seconds=20):
    """POST-as-GET url until its status leaves `until`; returns the
    object."""
    deadline = time.monotonic() + seconds
    while True:
        o = raw.post(url, b"", key, kid=kid).json()
        if o.get("status") not in until or time.monotonic() > deadline:
            return o
        time.sleep(0.1)


def new_order(raw, key, kid, names):
    r = raw.new_order(key, kid, names)
    assert r.status_code == 201, r.text
    return r.headers["Location"], r.json()


def ready_order(raw, http01_server, names, account=None):
    """A fresh account (or `account`, a (key, kid) pair) with an order for
    names in state "ready": (key, kid, order URL, order object)."""
    key, kid = account or raw.new_account()
    url, o = new_order(raw, key, kid, names)
    for az in o["authorizations"]:
        answer_http01(raw, http01_server, key, kid, az)
    o = poll(raw, key, kid, url)
    assert o["status"] == "ready", o
    return key, kid, url, o


def finalize(raw, key, kid, order, names, cert_key=None):
    """Finalizes a ready order; returns (response, certificate key)."""
    der, cert_key = csr_der(list(names), key=cert_key)
    r = raw.post(order["finalize"], {"csr": b64(der)}, key, kid=kid)
    return r, cert_key


def issued(raw, http01_server, names=("www.example.test",)):
    """A certificate issued to a fresh account: (key, kid, order URL,
    valid order, leaf certificate, certificate private key, PEM chain)."""
    key, kid, url, o = ready_order(raw, http01_server, list(names))
    r, cert_key = finalize(raw, key, kid, o, names)
    assert r.status_code == 200, r.text
    o = poll(raw, key, kid, url)
    assert o["status"] == "valid", o
    pem = raw.post(o["certificate"], b"", key, kid=kid).text
    return key, kid, url, o, load_chain(pem)[0], cert_key, pem


def load_chain(pem):
    end = "-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate((p + end).encode())
            for p in pem.split(end) if "BEGIN CERTIFICATE" in p]


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)
