"""RFC 5280 4.1.2.7, RFC 3279 2.3.1, RFC 5480 2.1.1: the certificate's
SubjectPublicKeyInfo is the canonical DER of the CSR's key, whatever
parameter encoding the CSR used; EC keys with explicit curve parameters
are badCSR. The CSRs are assembled by hand (the libraries only write the
canonical forms)."""

import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from acmehelp import Raw, assert_problem, b64
from test_resources import _ready_order

NAME = "spki.example.test"


def tlv(tag, content, long_form=False):
    n = len(content)
    if n < 0x80 and not long_form:
        return bytes([tag, n]) + content
    s = n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")
    return bytes([tag, 0x80 | len(s)]) + s + content


def seq(*parts, long_form=False):
    return tlv(0x30, b"".join(parts), long_form)


def oid(dotted):
    a = [int(x) for x in dotted.split(".")]
    out = bytes([a[0] * 40 + a[1]])
    for v in a[2:]:
        s = [v & 0x7f]
        v >>= 7
        while v:
            s.insert(0, 0x80 | (v & 0x7f))
            v >>= 7
        out += bytes(s)
    return tlv(0x06, out)


RSA = oid("1.2.840.113549.1.1.1")
NULL = bytes([0x05, 0x00])


def rsa_spki(key, params):
    """SubjectPublicKeyInfo of key with the algorithm's parameters as
    given (b"" leaves them out)."""
    pkcs1 = key.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.PKCS1)
    return seq(seq(RSA, params), tlv(0x03, b"\0" + pkcs1))


def rsa_csr(key, spki):
    san = seq(oid("2.5.29.17"), tlv(0x04, seq(tlv(0x82, NAME.encode()))))
    attrs = tlv(0xa0, seq(oid("1.2.840.113549.1.9.14"),
                          tlv(0x31, seq(san))))
    cri = seq(tlv(0x02, b"\0"), seq(), spki, attrs)
    sig = key.sign(cri, padding.PKCS1v15(), hashes.SHA256())
    return seq(cri, seq(oid("1.2.840.113549.1.1.11"), NULL),
               tlv(0x03, b"\0" + sig))


@pytest.mark.parametrize("params", ["null", "absent", "junk-sequence",
                                    "null-long-form"])
def test_rsa_parameters_come_out_as_null(session, directory_url,
                                         http01_server, params):
    key = rsa.generate_private_key(65537, 2048)
    spki = rsa_spki(key, {"null": NULL, "absent": b"",
                          "junk-sequence": seq(tlv(0x02, b"\x05")),
                          "null-long-form": tlv(0x05, b"", True)}[params])
    raw = Raw(session, directory_url)
    akey, kid, _, o = _ready_order(raw, http01_server, [NAME])
    r = raw.post(o["finalize"], {"csr": b64(rsa_csr(key, spki))}, akey,
                 kid=kid)
    if r.status_code != 200:
        # refusing a CSR that is not DER is fine too; issuing it as sent
        # is not
        assert params != "null", r.text
        assert_problem(r, 400, "badCSR")
        return
    pem = raw.post(r.json()["certificate"], b"", akey, kid=kid).text
    leaf = x509.load_pem_x509_certificate(pem.encode())
    canonical = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    assert leaf.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo) == canonical
    # the certificate's own bytes carry exactly those (the parser above
    # would take a NULL it has to normalise)
    assert canonical in leaf.public_bytes(serialization.Encoding.DER)


def test_ec_explicit_parameters_are_bad_csr(session, directory_url,
                                            http01_server, tmp_path):
    keyf, csrf = tmp_path / "k.pem", tmp_path / "r.der"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1",
                    "-param_enc", "explicit", "-genkey", "-noout", "-out",
                    str(keyf)], check=True, capture_output=True, timeout=30)
    subprocess.run(["openssl", "req", "-new", "-key", str(keyf), "-subj",
                    "/", "-addext", "subjectAltName=DNS:" + NAME,
                    "-outform", "DER", "-out", str(csrf)], check=True,
                   capture_output=True, timeout=30)
    raw = Raw(session, directory_url)
    akey, kid, _, o = _ready_order(raw, http01_server, [NAME])
    r = raw.post(o["finalize"], {"csr": b64(csrf.read_bytes())}, akey,
                 kid=kid)
    assert_problem(r, 400, "badCSR")
    assert "named curve" in r.json()["detail"]
