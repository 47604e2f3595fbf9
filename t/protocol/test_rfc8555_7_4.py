"""RFC 8555 7.4 (newOrder, finalize) and 7.4.2 (certificate download):
the rules test_resources.py, test_flow.py and test_bad_input.py leave."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acmehelp import Raw, assert_problem, b64, csr_der
from test_rfc8555_common import (issued, last, load_chain, new_order, poll,
                                 ready_order, sql)


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


# --- newOrder ----------------------------------------------------------------

def test_rfc8555_7_4_new_order_reflects_the_request(raw):
    key, kid = raw.new_account()
    names = ["b.order.example.test", "a.order.example.test"]
    r = raw.new_order(key, kid, names)
    assert r.status_code == 201, r.text
    o = r.json()
    assert sorted(i["value"] for i in o["identifiers"]) == sorted(names)
    assert all(i["type"] == "dns" for i in o["identifiers"])
    assert len(o["authorizations"]) == 2
    got = set()
    for az in o["authorizations"]:
        a = raw.post(az, b"", key, kid=kid).json()
        assert a["status"] == "pending"
        got.add(a["identifier"]["value"])
    assert got == set(names)
    assert raw.post(r.headers["Location"], b"", key, kid=kid).json() == o


@pytest.mark.parametrize("field", ["notBefore", "notAfter"])
def test_rfc8555_7_4_unfulfillable_validity_is_an_error(raw, field):
    """The CA sets the validity itself: a requested notBefore/notAfter it
    cannot honour is an error, and no order is made."""
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {
        "identifiers": [{"type": "dns", "value": "nb.example.test"}],
        field: "2030-01-01T00:00:00Z"}, key, kid=kid)
    assert_problem(r, 400, "malformed")
    assert raw.post(kid + "/orders", b"", key, kid=kid).json()["orders"] \
        == []


# --- finalize ----------------------------------------------------------------

def _cn_only_csr(name):
    k = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(
            k, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def test_rfc8555_7_4_identifier_in_common_name_only(raw, http01_server):
    name = "cn-only.example.test"
    key, kid, url, o = ready_order(raw, http01_server, [name])
    r = raw.post(o["finalize"], {"csr": b64(_cn_only_csr(name))}, key,
                 kid=kid)
    assert r.status_code == 200, r.text
    o = poll(raw, key, kid, url)
    leaf = load_chain(raw.post(o["certificate"], b"", key, kid=kid).text)[0]
    san = leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]


def test_rfc8555_7_4_names_may_be_in_any_order_and_also_in_cn(
        raw, http01_server):
    names = ["one.example.test", "two.example.test"]
    key, kid, url, o = ready_order(raw, http01_server, names)
    der, _ = csr_der(list(reversed(names)), cn=names[1])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text


def test_rfc8555_7_4_finalize_of_invalid_order_is_order_not_ready(raw):
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["invalid-fin.example.test"])
    raw.post(o["authorizations"][0], {"status": "deactivated"}, key,
             kid=kid)
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "invalid"
    der, _ = csr_der(["invalid-fin.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert_problem(r, 403, "orderNotReady")


def test_rfc8555_7_4_bad_csr_detail_and_order_stays_ready(raw,
                                                          http01_server):
    key, kid, url, o = ready_order(raw, http01_server, ["bd.example.test"])
    der, _ = csr_der(["bd.example.test", "other.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    p = assert_problem(r, 400, "badCSR")
    assert "other.example.test" in p["detail"], p
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "ready"


def test_rfc8555_7_4_finalize_answers_the_updated_order(raw, http01_server):
    key, kid, url, o = ready_order(raw, http01_server, ["fin.example.test"])
    der, _ = csr_der(["fin.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] in ("processing", "valid")
    assert done["identifiers"] == o["identifiers"]
    assert done["authorizations"] == o["authorizations"]
    if done["status"] == "valid":
        assert done["certificate"]


def test_rfc8555_7_4_processing_order_has_retry_after(raw, stack_env):
    """Issuance is synchronous, so "processing" is only seen after a crash
    between the two halves of finalize: made here in the database."""
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["processing.example.test"])
    sql(stack_env, "UPDATE orders SET status = 'processing' "
        "WHERE public_id = '%s'" % last(url))
    r = raw.post(url, b"", key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "processing"
    assert int(r.headers["Retry-After"]) >= 1
    der, _ = csr_der(["processing.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert_problem(r, 403, "orderNotReady")


# --- 7.4.2 certificate ---------------------------------------------------------

def test_rfc8555_7_4_2_certificate_by_post_as_get(raw, http01_server,
                                                  session):
    key, kid, url, o, leaf, _, pem = issued(raw, http01_server,
                                            ["dl.example.test"])
    r = raw.post(o["certificate"], b"", key, kid=kid)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pem-certificate-chain"
    assert r.text == pem                     # immutable
    assert r.links.get("index")
    chain = load_chain(r.text)
    assert chain[0] == leaf
    assert leaf.extensions.get_extension_for_class(
        x509.BasicConstraints).value.ca is False
    assert all(c.extensions.get_extension_for_class(
        x509.BasicConstraints).value.ca for c in chain[1:])
    # no unauthenticated download
    assert_problem(session.get(o["certificate"], timeout=10), 405,
                   "malformed")
