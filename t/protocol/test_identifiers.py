"""RFC 8555 7.1.3/7.1.4 wildcards and RFC 8738 IP identifiers."""

import ipaddress
import time

import josepy as jose
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acmehelp import Raw, assert_problem, b64


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def test_rfc8555_7_1_3_wildcard_authz_is_base_name_dns01_only(raw):
    key, kid = raw.new_account()
    r = raw.new_order(key, kid, ["*.Example.Test"])
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["identifiers"] == [{"type": "dns", "value": "*.example.test"}]
    a = raw.post(o["authorizations"][0], b"", key, kid=kid).json()
    assert a["identifier"] == {"type": "dns", "value": "example.test"}
    assert a["wildcard"] is True
    assert [c["type"] for c in a["challenges"]] == ["dns-01"]


def test_rfc8555_7_4_wildcard_and_base_are_two_authorizations(raw):
    key, kid = raw.new_account()
    o = raw.new_order(key, kid, ["*.example.test", "example.test"]).json()
    assert len(o["authorizations"]) == 2
    kinds = sorted(raw.post(u, b"", key, kid=kid).json().get("wildcard",
                                                            False)
                   for u in o["authorizations"])
    assert kinds == [False, True]


def test_rfc8555_8_challenges_share_one_token(raw):
    key, kid = raw.new_account()
    o = raw.new_order(key, kid, ["www.example.test"]).json()
    a = raw.post(o["authorizations"][0], b"", key, kid=kid).json()
    assert sorted(c["type"] for c in a["challenges"]) == [
        "dns-01", "http-01", "tls-alpn-01"]
    assert len({c["token"] for c in a["challenges"]}) == 1
    assert len({c["url"] for c in a["challenges"]}) == 3


@pytest.mark.parametrize("value,canon", [
    ("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
    ("2001:DB8:0:0:0:0:0:1", "2001:db8::1")])
def test_rfc8738_ip_identifier_http01_tls_alpn01_only(raw, value, canon):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "ip", "value": value}]}, key, kid=kid)
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["identifiers"] == [{"type": "ip", "value": canon}]
    a = raw.post(o["authorizations"][0], b"", key, kid=kid).json()
    assert sorted(c["type"] for c in a["challenges"]) == [
        "http-01", "tls-alpn-01"]


@pytest.mark.parametrize("value", ["1.2.3", "10.0.0.1/8", "fe80::1%eth0",
                                   "www.example.test", ""])
def test_rfc8738_bad_ip_identifier_is_malformed(raw, value):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "ip", "value": value}]}, key, kid=kid)
    assert_problem(r, 400, "malformed")


def test_rfc8738_ip_certificate_over_http01(raw, http01_server):
    key, kid = raw.new_account()
    resp = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "ip", "value": "127.0.0.1"}]}, key, kid=kid)
    o = resp.json()
    thumb = jose.b64encode(key.public_key().thumbprint()).decode()
    a = raw.post(o["authorizations"][0], b"", key, kid=kid).json()
    ch = next(c for c in a["challenges"] if c["type"] == "http-01")
    http01_server[ch["token"]] = ch["token"] + "." + thumb
    assert raw.post(ch["url"], {}, key, kid=kid).status_code == 200
    for _ in range(100):
        o = raw.post(resp.headers["Location"], b"", key, kid=kid).json()
        if o["status"] != "pending":
            break
        time.sleep(0.1)
    assert o["status"] == "ready", o
    ck = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([])).add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        critical=False).sign(ck, hashes.SHA256())
    r = raw.post(o["finalize"], {"csr": b64(csr.public_bytes(
        serialization.Encoding.DER))}, key, kid=kid)
    assert r.status_code == 200, r.text
    pem = raw.post(r.json()["certificate"], b"", key, kid=kid).text
    leaf = x509.load_pem_x509_certificate(pem.encode())
    san = leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == []


def test_rfc8555_6_7_1_rejected_identifiers_as_subproblems(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "ok.example.test"},
        {"type": "dns", "value": "bad..example.test"},
        {"type": "dns", "value": "localhost"}]}, key, kid=kid)
    p = assert_problem(r, 400, "rejectedIdentifier")
    subs = p["subproblems"]
    assert [s["identifier"] for s in subs] == [
        {"type": "dns", "value": "bad..example.test"},
        {"type": "dns", "value": "localhost"}]
    for s in subs:
        assert s["type"] == "urn:ietf:params:acme:error:rejectedIdentifier"
        assert s["detail"]


def test_rfc8555_6_7_1_mixed_errors_are_compound(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "bad..example.test"},
        {"type": "email", "value": "a@example.test"}]}, key, kid=kid)
    p = assert_problem(r, 400, "compound")
    assert sorted(s["type"].rsplit(":", 1)[1] for s in p["subproblems"]) \
        == ["rejectedIdentifier", "unsupportedIdentifier"]
