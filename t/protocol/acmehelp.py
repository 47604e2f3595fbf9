"""Raw ACME requests for the protocol tests: JWS built by hand (josepy),
so that a test can break exactly one rule and look at the answer."""

import http.server
import json
import threading
import time

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


# --- the http-01 responder (RFC 8555 8.3) ----------------------------------

class _Http01Handler(http.server.BaseHTTPRequestHandler):
    prefix = "/.well-known/acme-challenge/"

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Host")))
        if srv.delay:
            time.sleep(srv.delay)
        body = None
        if self.path.startswith(self.prefix):
            body = srv.responses.get(self.path[len(self.prefix):])
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if isinstance(body, str):
            body = body.encode("ascii")
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Http01Server(http.server.ThreadingHTTPServer):
    """The tests' http-01 responder on 127.0.0.1:port: GET
    /.well-known/acme-challenge/TOKEN answers .responses[TOKEN] (the key
    authorization, str or bytes; responses: a dict of the caller's or a new
    one) with 200, anything else with 404. .requests lists the (path,
    Host) of every request; .delay seconds pass before each answer.
    Serving starts at once, in a thread; close() (or the end of a with
    block) stops it."""
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port, responses=None):
        super().__init__(("127.0.0.1", port), _Http01Handler)
        self.responses = {} if responses is None else responses
        self.requests = []
        self.delay = 0.0
        self._thread = threading.Thread(target=self.serve_forever,
                                        name="http01", daemon=True,
                                        kwargs={"poll_interval": 0.1})
        self._thread.start()

    def handle_error(self, request, client_address):
        pass        # a validator that hung up (timeout, kill -9)

    def close(self):
        self.shutdown()
        self.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
