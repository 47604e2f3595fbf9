"""RFC 8555 7.6: certificate revocation; the rules
test_revoke_keychange.py and test_bad_input.py leave."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import josepy as jose

from acmehelp import Raw, assert_problem, b64, ec_key
from test_rfc8555_common import (der, issued, ready_order, sql)


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def _revoke(raw, leaf, key, kid=None, **extra):
    payload = {"certificate": b64(der(leaf))}
    payload.update(extra)
    return raw.post(raw.dir["revokeCert"], payload, key, kid=kid)


def test_rfc8555_7_6_authorizations_for_some_names_are_not_enough(
        raw, http01_server):
    names = ["part1.example.test", "part2.example.test"]
    _, _, _, _, leaf, _, _ = issued(raw, http01_server, names)
    key2, kid2, _, _ = ready_order(raw, http01_server, names[:1])
    assert_problem(_revoke(raw, leaf, key2, kid2), 403, "unauthorized")
    # with the second name too, the same account may revoke
    ready_order(raw, http01_server, names[1:], account=(key2, kid2))
    r = _revoke(raw, leaf, key2, kid2)
    assert r.status_code == 200, r.text


def test_rfc8555_7_6_deactivated_authorization_is_not_enough(
        raw, http01_server):
    names = ["gone.example.test"]
    _, _, _, _, leaf, _, _ = issued(raw, http01_server, names)
    key2, kid2, _, o = ready_order(raw, http01_server, names)
    r = raw.post(o["authorizations"][0], {"status": "deactivated"}, key2,
                 kid=kid2)
    assert r.status_code == 200, r.text
    assert_problem(_revoke(raw, leaf, key2, kid2), 403, "unauthorized")


def test_rfc8555_7_6_jwk_that_is_not_the_certificate_key(raw,
                                                         http01_server):
    _, _, _, _, leaf, _, _ = issued(raw, http01_server,
                                    ["notmykey.example.test"])
    assert_problem(_revoke(raw, leaf, ec_key()), 403, "unauthorized")


def test_rfc8555_7_6_revocation_is_recorded_once(raw, http01_server,
                                                 stack_env):
    key, kid, _, _, leaf, cert_key, _ = issued(raw, http01_server,
                                               ["once.example.test"])
    r = _revoke(raw, leaf, jose.JWKEC(key=cert_key), reason=1)
    assert r.status_code == 200, r.text
    assert r.headers.get("Replay-Nonce") and r.links.get("index")
    serial = "%x" % leaf.serial_number
    row = sql(stack_env, "SELECT revocation_reason, revoked_at IS NOT NULL "
              "FROM certificates WHERE ltrim(serial, '0') = '%s'"
              % serial).strip()
    assert row == "1|t", row
    for signer, k in ((jose.JWKEC(key=cert_key), None), (key, kid)):
        assert_problem(_revoke(raw, leaf, signer, k, reason=4), 400,
                       "alreadyRevoked")
    row = sql(stack_env, "SELECT revocation_reason FROM certificates "
              "WHERE ltrim(serial, '0') = '%s'" % serial).strip()
    assert row == "1", row


def test_rfc8555_7_6_bad_reason_detail_lists_allowed_codes(raw,
                                                           http01_server):
    key, kid, _, _, leaf, _, _ = issued(raw, http01_server,
                                        ["reasons.example.test"])
    p = assert_problem(_revoke(raw, leaf, key, kid, reason=6), 400,
                       "badRevocationReason")
    for code in ("0", "1", "3", "4", "5", "9"):
        assert code in p["detail"], p


def test_rfc8555_7_6_certificate_not_from_this_ca(raw):
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "foreign.example.test")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(1))
            .sign(k, hashes.SHA256()))
    key, kid = raw.new_account()
    r = _revoke(raw, cert, key, kid)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    # signed with that certificate's own key: still not ours to revoke
    r = _revoke(raw, cert, jose.JWKEC(key=k))
    assert 400 <= r.status_code < 500, r.text
