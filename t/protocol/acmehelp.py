"""Raw ACME requests for the protocol tests: JWS built by hand (josepy),
so that a test can break exactly one rule and look at the answer."""

import json

import josepy as jose
from acme import jws as acme_jws
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

JOSE = "application/jose+json"
PROBLEM = "application/problem+json"
URN = "urn:ietf:params:acme:error:"


def ec_key(curve=None):
    return jose.JWKEC(key=ec.generate_private_key(curve or ec.SECP256R1()))


def rsa_key(bits=2048):
    return jose.JWKRSA(key=rsa.generate_private_key(65537, bits))


class Raw:
    """A hand-rolled ACME client over a requests.Session."""

    def __init__(self, session, directory_url):
        self.s = session
        self.dir_url = directory_url
        self.dir = session.get(directory_url, timeout=10).json()
        self.base = directory_url[:-len("directory")]

    def nonce(self):
        r = self.s.head(self.dir["newNonce"], timeout=10)
        assert r.status_code == 200, r.text
        return r.headers["Replay-Nonce"]

    def sign(self, url, payload, key, alg=jose.ES256, kid=None, nonce=None):
        """payload: dict, or b"" for POST-as-GET, or raw bytes."""
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        if nonce is None:
            nonce = self.nonce()
        n = jose.b64decode(nonce) if nonce else None
        return acme_jws.JWS.sign(payload, key=key, alg=alg, nonce=n,
                                 url=url, kid=kid).json_dumps()

    def post(self, url, payload, key, alg=jose.ES256, kid=None, nonce=None,
             content_type=JOSE, body=None):
        if body is None:
            body = self.sign(url, payload, key, alg=alg, kid=kid,
                             nonce=nonce)
        return self.s.post(url, data=body, timeout=30,
                           headers={"Content-Type": content_type})

    def new_account(self, key=None, alg=jose.ES256, **fields):
        key = key or ec_key()
        payload = {"termsOfServiceAgreed": True}
        payload.update(fields)
        r = self.post(self.dir["newAccount"], payload, key, alg=alg)
        assert r.status_code in (200, 201), r.text
        return key, r.headers["Location"]

    def new_order(self, key, kid, names):
        r = self.post(self.dir["newOrder"], {
            "identifiers": [{"type": "dns", "value": n} for n in names]},
            key, kid=kid)
        return r


def assert_problem(r, status, name):
    """r is an RFC 8555 6.7 problem of type name with HTTP status and a
    fresh Replay-Nonce (RFC 8555 6.5)."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].split(";")[0] == PROBLEM, r.headers
    try:
        p = r.json()
    except ValueError:
        raise AssertionError("problem body is not JSON: %r %r" % (r.content, r.headers))
    assert p["type"] == URN + name, p
    assert p.get("detail"), p
    assert r.headers.get("Replay-Nonce"), r.headers
    return p


def csr_der(names, key=None, cn=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder()
    b = b.subject_name(x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
    b = b.add_extension(x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in names]), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER), key


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return jose.b64encode(data).decode()


def raw_jws(protected, payload=b"", signature=b"\0" * 64):
    """A flattened JWS with any protected header (a dict) and an arbitrary
    signature: for the checks that come before signature verification."""
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    return json.dumps({"protected": b64(json.dumps(protected)),
                       "payload": b64(payload),
                       "signature": b64(signature)})
