"""Operator policy in nginx config (issue 5): a second CA, /strict/, with
terms of service, required contact, required External Account Binding
(RFC 8555 7.3.4), allowed and denied names, http-01 only, both EKUs, CRL
and AIA URLs and a 7-day lifetime. It is also a second CA in one nginx:
accounts of one are unknown to the other."""

import hashlib
import hmac
import json
import secrets
import subprocess
import time

import josepy as jose
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from acmehelp import Raw, assert_problem, b64, csr_der, ec_key


@pytest.fixture
def strict(session, https_base):
    return Raw(session, https_base + "/strict/directory")


@pytest.fixture
def default_ca(session, directory_url):
    return Raw(session, directory_url)


@pytest.fixture
def eab_key(stack_env):
    """A fresh EAB key of the /strict/ CA: (kid, mac key bytes)."""
    kid = b64(secrets.token_bytes(16))
    key = secrets.token_bytes(32)
    subprocess.run(
        ["psql", stack_env["ACME_DB_CONNINFO"], "-qAtc",
         "INSERT INTO eab_keys (kid, ca, hmac_key) VALUES ('%s', '/strict/', "
         "'\\x%s')" % (kid, key.hex())], check=True, timeout=30)
    return kid, key


def eab(url, kid, mac_key, account_key, alg="HS256"):
    prot = b64(json.dumps({"alg": alg, "kid": kid, "url": url}))
    pay = b64(account_key.public_key().json_dumps())
    h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
         "HS512": hashlib.sha512}[alg]
    sig = hmac.new(mac_key, (prot + "." + pay).encode(), h).digest()
    return {"protected": prot, "payload": pay, "signature": b64(sig)}


def register(strict, eab_key, **extra):
    key = ec_key()
    kid, mac = eab_key
    payload = {"termsOfServiceAgreed": True,
               "contact": ["mailto:ops@example.test"],
               "externalAccountBinding": eab(strict.dir["newAccount"], kid,
                                             mac, key)}
    payload.update(extra)
    return key, strict.post(strict.dir["newAccount"], payload, key)


def ready_order(strict, key, kid, name, http01_server):
    """A new order of the /strict/ CA for name, made ready over http-01
    (the only challenge it offers): (order URL, order object)."""
    resp = strict.new_order(key, kid, [name])
    assert resp.status_code == 201, resp.text
    o = resp.json()
    thumb = jose.b64encode(key.public_key().thumbprint()).decode()
    a = strict.post(o["authorizations"][0], b"", key, kid=kid).json()
    ch = a["challenges"][0]
    http01_server[ch["token"]] = ch["token"] + "." + thumb
    assert strict.post(ch["url"], {}, key, kid=kid).status_code == 200
    for _ in range(100):
        o = strict.post(resp.headers["Location"], b"", key, kid=kid).json()
        if o["status"] != "pending":
            break
        time.sleep(0.1)
    assert o["status"] == "ready", o
    return resp.headers["Location"], o


def test_directory_meta(strict, default_ca):
    assert strict.dir["meta"]["termsOfService"] == \
        "https://ca.example.test/tos"
    assert strict.dir["meta"]["externalAccountRequired"] is True
    assert default_ca.dir["meta"]["externalAccountRequired"] is False
    assert "termsOfService" not in default_ca.dir["meta"]


def test_rfc8555_7_3_4_eab_required(strict):
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:ops@example.test"]}, ec_key())
    assert_problem(r, 400, "externalAccountRequired")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_rfc8555_7_3_4_eab_binds_once(strict, eab_key, alg):
    key = ec_key()
    kid, mac = eab_key
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"],
        "externalAccountBinding": eab(strict.dir["newAccount"], kid, mac,
                                      key, alg)}, key)
    assert r.status_code == 201, r.text
    # the same EAB key cannot bind a second account
    key2 = ec_key()
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:b@example.test"],
        "externalAccountBinding": eab(strict.dir["newAccount"], kid, mac,
                                      key2)}, key2)
    assert_problem(r, 403, "unauthorized")


def test_rfc8555_7_3_4_eab_wrong_mac_unknown_kid_nonce(strict, eab_key):
    kid, mac = eab_key
    key = ec_key()
    bad = eab(strict.dir["newAccount"], kid, b"x" * 32, key)
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"],
        "externalAccountBinding": bad}, key)
    assert_problem(r, 403, "unauthorized")
    unknown = eab(strict.dir["newAccount"], "nosuchkid", mac, key)
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"],
        "externalAccountBinding": unknown}, key)
    assert_problem(r, 403, "unauthorized")
    prot = b64(json.dumps({"alg": "HS256", "kid": kid, "nonce": "x",
                           "url": strict.dir["newAccount"]}))
    pay = b64(key.public_key().json_dumps())
    sig = hmac.new(mac, (prot + "." + pay).encode(), hashlib.sha256).digest()
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"],
        "externalAccountBinding": {"protected": prot, "payload": pay,
                                   "signature": b64(sig)}}, key)
    assert_problem(r, 400, "malformed")
    # the key is still unbound and usable
    _, r = register(strict, eab_key)
    assert r.status_code == 201, r.text


def test_rfc8555_7_3_4_eab_for_another_key(strict, eab_key):
    kid, mac = eab_key
    key, other = ec_key(), ec_key()
    r = strict.post(strict.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"],
        "externalAccountBinding": eab(strict.dir["newAccount"], kid, mac,
                                      other)}, key)
    assert_problem(r, 403, "unauthorized")


def test_terms_of_service_must_be_agreed(strict, eab_key):
    _, r = register(strict, eab_key, termsOfServiceAgreed=False)
    assert_problem(r, 400, "malformed")


def test_contact_required(strict, eab_key):
    _, r = register(strict, eab_key, contact=[])
    assert_problem(r, 400, "invalidContact")


def test_two_cas_do_not_share_accounts(strict, default_ca, eab_key):
    key, r = register(strict, eab_key)
    assert r.status_code == 201
    r = default_ca.post(default_ca.dir["newAccount"],
                        {"onlyReturnExisting": True}, key)
    assert_problem(r, 400, "accountDoesNotExist")
    # and a kid of one CA is not an account of the other
    _, kid_default = default_ca.new_account()
    r = strict.post(strict.dir["newOrder"], {"identifiers": [
        {"type": "dns", "value": "www.example.test"}]}, key,
        kid=kid_default)
    assert_problem(r, 400, "accountDoesNotExist")


@pytest.mark.parametrize("name,ok", [
    ("www.example.test", True), ("example.test", True),
    ("forbidden.example.test", False), ("x.forbidden.example.test", False),
    ("www.other.test", False)])
def test_allow_and_deny_names(strict, eab_key, name, ok):
    key, r = register(strict, eab_key)
    kid = r.headers["Location"]
    r = strict.new_order(key, kid, [name])
    if ok:
        assert r.status_code == 201, r.text
    else:
        assert_problem(r, 400, "rejectedIdentifier")


def test_challenge_policy_http01_only_no_wildcards(strict, eab_key):
    key, r = register(strict, eab_key)
    kid = r.headers["Location"]
    o = strict.new_order(key, kid, ["www.example.test"]).json()
    a = strict.post(o["authorizations"][0], b"", key, kid=kid).json()
    assert [c["type"] for c in a["challenges"]] == ["http-01"]
    r = strict.new_order(key, kid, ["*.example.test"])
    assert_problem(r, 400, "rejectedIdentifier")


def test_certificate_profile(strict, eab_key, http01_server):
    key, r = register(strict, eab_key)
    kid = r.headers["Location"]
    _, o = ready_order(strict, key, kid, "www.example.test", http01_server)
    der, _ = csr_der(["www.example.test"])
    r = strict.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text
    pem = strict.post(r.json()["certificate"], b"", key, kid=kid).text
    leaf = x509.load_pem_x509_certificate(pem.encode())
    eku = list(leaf.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value)
    assert eku == [ExtendedKeyUsageOID.SERVER_AUTH,
                   ExtendedKeyUsageOID.CLIENT_AUTH]
    crl = leaf.extensions.get_extension_for_class(
        x509.CRLDistributionPoints).value
    assert crl[0].full_name[0].value == "http://ca.example.test/ca.crl"
    aia = leaf.extensions.get_extension_for_class(
        x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://ca.example.test/ca.der"
    life = leaf.not_valid_after - leaf.not_valid_before
    assert life.days == 7


def test_csr_key_types(strict, eab_key, http01_server):
    """acme_server_key_types p256 p384: an RSA CSR is badCSR."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    key, r = register(strict, eab_key)
    kid = r.headers["Location"]
    _, o = ready_order(strict, key, kid, "keys.example.test", http01_server)
    der, _ = csr_der(["keys.example.test"],
                     key=rsa.generate_private_key(65537, 2048))
    r = strict.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert_problem(r, 400, "badCSR")
    der, _ = csr_der(["keys.example.test"])
    r = strict.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text


def test_authorization_reuse_off(strict, eab_key, http01_server):
    """acme_server_authorization_reuse off: a second order gets a new
    authorization even though the first is valid."""
    key, r = register(strict, eab_key)
    kid = r.headers["Location"]
    _, o = ready_order(strict, key, kid, "reuse.example.test", http01_server)
    o2 = strict.new_order(key, kid, ["reuse.example.test"]).json()
    assert o2["status"] == "pending"
    assert o2["authorizations"] != o["authorizations"]


def test_account_key_types(session, https_base):
    """acme_server_account_key_types ec ed25519 (the /limited/ CA): an RSA
    account key is badPublicKey, for newAccount and keyChange alike."""
    from acmehelp import rsa_key
    limited = Raw(session, https_base + "/limited/directory")
    r = limited.post(limited.dir["newAccount"],
                     {"termsOfServiceAgreed": True}, rsa_key(),
                     alg=jose.RS256)
    assert_problem(r, 400, "badPublicKey")
