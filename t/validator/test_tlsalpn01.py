"""tls-alpn-01 (RFC 8737, RFC 8738 6) through the real validator.

A Python TLS server on the validator's tls_alpn01_port answers with a
validation certificate made for each test (python3-cryptography), and
records the SNI and ALPN protocols the validator offered.
"""

import datetime
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ACME_IDENTIFIER = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")


def make_cert(tmp_path, sans, value, critical=True, extension=True):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.utcnow()
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                     "acme-tls/1 test")]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                    "acme-tls/1 test")]))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.SubjectAlternativeName(sans), critical=False))
    if extension:
        b = b.add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER,
                                                       value),
                            critical=critical)
    cert = b.sign(key, hashes.SHA256())
    path = tmp_path / "cert.pem"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def octets(digest):
    """DER OCTET STRING (RFC 8737 3)"""
    return b"\x04" + bytes([len(digest)]) + digest


class Server:
    """one TLS listener; the context is replaced by each test"""

    def __init__(self, port):
        self.ctx = None
        self.sni = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def configure(self, certfile, alpn=("acme-tls/1",)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))

        def sni_cb(sslobj, name, ctx_):
            self.sni.append(name)

        ctx.sni_callback = sni_cb
        self.ctx = ctx
        self.sni = []

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self.handle, args=(conn,),
                             daemon=True).start()

    def handle(self, conn):
        conn.settimeout(5)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as s:
                try:
                    s.recv(1)
                except (OSError, ssl.SSLError):
                    pass
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def server(validator):
    s = Server(validator.tls_port)
    yield s
    s.close()


@pytest.fixture
def host(dns, request):
    name = "t-%s.%s" % (request.node.name[-20:].replace("_", "-"), dns.base)
    dns.add(name, "A", "127.0.0.1")
    return name


def run(job, server, tmp_path, name, sans=None, value=None, **kw):
    j = job(name, "tls-alpn-01", queue=False,
            ident_type=kw.pop("ident_type", "dns"))
    alpn = kw.pop("alpn", ("acme-tls/1",))
    if sans is None:
        sans = [x509.DNSName(name)]
    server.configure(make_cert(tmp_path, sans,
                               octets(j.digest) if value is None
                               else value(j), **kw), alpn)
    j.queue()
    return j.result()


def test_rfc8737_3_valid(job, server, host, tmp_path):
    status, prob, record = run(job, server, tmp_path, host)
    assert status == "valid", prob
    assert server.sni == [host]
    rec = record[0]
    assert rec["addressUsed"] == "127.0.0.1"
    assert rec["serverName"] == host
    assert record[-1]["caa"]["result"] == "permitted"


def test_rfc8738_6_ip_identifier_sni_is_reverse_name(job, server, tmp_path):
    status, prob, record = run(job, server, tmp_path, "127.0.0.1",
                               sans=[x509.IPAddress(
                                   ipaddress.ip_address("127.0.0.1"))],
                               ident_type="ip")
    assert status == "valid", prob
    assert server.sni == ["1.0.0.127.in-addr.arpa"]
    assert record[-1]["caa"]["result"].startswith("not applicable")


def test_rfc8737_3_alpn_not_negotiated(job, server, host, tmp_path):
    status, prob, _ = run(job, server, tmp_path, host, alpn=None)
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "acme-tls/1" in prob["detail"]


def test_rfc8737_3_two_sans(job, server, host, tmp_path):
    status, prob, _ = run(job, server, tmp_path, host,
                          sans=[x509.DNSName(host),
                                x509.DNSName("other." + host)])
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "2 subjectAltNames" in prob["detail"]


def test_rfc8737_3_wrong_san(job, server, host, tmp_path):
    status, prob, _ = run(job, server, tmp_path, host,
                          sans=[x509.DNSName("other." + host)])
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "subjectAltName is DNS:other." in prob["detail"]


def test_rfc8737_3_extension_not_critical(job, server, host, tmp_path):
    status, prob, _ = run(job, server, tmp_path, host, critical=False)
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "not critical" in prob["detail"]


def test_rfc8737_3_extension_missing(job, server, host, tmp_path):
    status, prob, _ = run(job, server, tmp_path, host, extension=False)
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "missing the acmeIdentifier" in prob["detail"]


def test_rfc8737_3_extension_not_der_octet_string(job, server, host,
                                                  tmp_path):
    status, prob, _ = run(job, server, tmp_path, host,
                          value=lambda j: j.digest)
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "DER OCTET STRING" in prob["detail"]


def test_rfc8737_3_wrong_digest(job, server, host, tmp_path):
    status, prob, _ = run(job, server, tmp_path, host,
                          value=lambda j: octets(bytes(32)))
    assert status == "invalid"
    assert prob["type"] == "incorrectResponse"
    assert j_hex_zero() in prob["detail"]


def j_hex_zero():
    return "00" * 32


def test_rfc8737_3_connection_refused(job, dns, validator, tmp_path):
    # a name whose address has nothing listening: ::1 is in no test's A
    name = "refused." + dns.base
    dns.add(name, "AAAA", "::1")
    j = job(name, "tls-alpn-01")
    status, prob, record = j.result()
    assert status == "invalid"
    assert prob["type"] == "connection"
    assert record[0]["addressUsed"] == "::1"


def test_rfc8737_3_wildcard_refused(job, dns):
    j = job("w." + dns.base, "tls-alpn-01", wildcard=True)
    status, prob, _ = j.result()
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
