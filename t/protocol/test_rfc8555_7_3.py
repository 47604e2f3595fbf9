"""RFC 8555 7.3: newAccount, account update, external account binding,
key rollover and deactivation; the rules test_resources.py,
test_revoke_keychange.py, test_policy.py and test_bad_input.py leave."""

import hashlib
import hmac
import json
import secrets

import josepy as jose
import pytest
from acme import jws as acme_jws

from acmehelp import Raw, assert_problem, b64, ec_key
from test_rfc8555_common import issued, new_order, ready_order, sql, der


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


@pytest.fixture
def strict(session, https_base):
    """The stack's CA that requires EAB, terms of service and a contact."""
    return Raw(session, https_base + "/strict/directory")


@pytest.fixture
def eab_key(stack_env):
    kid = b64(secrets.token_bytes(16))
    mac = secrets.token_bytes(32)
    sql(stack_env, "INSERT INTO eab_keys (kid, ca, hmac_key) VALUES "
        "('%s', '/strict/', '\\x%s')" % (kid, mac.hex()))
    return kid, mac


def _eab(url, kid, mac, account_key, alg="HS256", extra=None):
    hdr = {"alg": alg, "kid": kid, "url": url}
    hdr.update(extra or {})
    prot = b64(json.dumps(hdr))
    pay = b64(account_key.public_key().json_dumps())
    sig = hmac.new(mac, (prot + "." + pay).encode(), hashlib.sha256).digest()
    return {"protected": prot, "payload": pay, "signature": b64(sig)}


def _strict_payload(strict, eab, account_key, **kw):
    kid, mac = eab
    p = {"termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"],
         "externalAccountBinding": _eab(strict.dir["newAccount"], kid, mac,
                                        account_key, **kw)}
    return p


def _key_change(raw, kid, old, new):
    url = raw.dir["keyChange"]
    inner = acme_jws.JWS.sign(
        json.dumps({"account": kid,
                    "oldKey": old.public_key().to_partial_json()}).encode(),
        key=new, alg=jose.ES256, nonce=None, url=url)
    return raw.post(url, json.loads(inner.json_dumps()), old, kid=kid)


# --- 7.3 newAccount ----------------------------------------------------------

def test_rfc8555_7_3_new_account_ignores_orders_and_unknown_fields(raw):
    """Client-sent "orders" and unknown fields are ignored, and neither
    they nor "onlyReturnExisting" are reflected."""
    key = ec_key()
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True, "orders": "https://evil.test/orders",
        "onlyReturnExisting": False, "x-extension": {"a": 1},
        "status": "deactivated"}, key)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["orders"] == r.headers["Location"] + "/orders"
    assert a["status"] == "valid"
    assert "onlyReturnExisting" not in a and "x-extension" not in a


def test_rfc8555_7_3_mailto_contact_is_supported(raw):
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:one@example.test", "mailto:two@example.test"]},
        ec_key())
    assert r.status_code == 201, r.text
    assert r.json()["contact"] == ["mailto:one@example.test",
                                   "mailto:two@example.test"]


def test_rfc8555_7_3_unsupported_contact_detail_names_accepted_schemes(raw):
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["xmpp:a@example.test"]},
        ec_key())
    p = assert_problem(r, 400, "unsupportedContact")
    assert "mailto" in p["detail"], p


# --- 7.3.1 finding an account URL given a key --------------------------------

def test_rfc8555_7_3_1_existing_key_ignores_request_fields(raw):
    key, kid = raw.new_account(contact=["mailto:first@example.test"])
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:second@example.test"]}, key)
    assert r.status_code == 200, r.text
    assert r.headers["Location"] == kid
    assert r.json()["contact"] == ["mailto:first@example.test"]
    r = raw.post(kid, b"", key, kid=kid)
    assert r.json()["contact"] == ["mailto:first@example.test"]


def test_rfc8555_7_3_1_only_return_existing_creates_nothing(raw):
    key = ec_key()
    r = raw.post(raw.dir["newAccount"], {"onlyReturnExisting": True,
                                         "termsOfServiceAgreed": True}, key)
    assert_problem(r, 400, "accountDoesNotExist")
    # no account was made: the next registration is a creation (201)
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key)
    assert r.status_code == 201, r.text


# --- 7.3.2 account update ----------------------------------------------------

def test_rfc8555_7_3_2_update_ignores_orders_tos_and_unknown_fields(raw):
    key, kid = raw.new_account()
    before = raw.post(kid, b"", key, kid=kid).json()
    r = raw.post(kid, {"orders": "https://evil.test/orders",
                       "termsOfServiceAgreed": False, "x-extension": 1,
                       "externalAccountBinding": {"protected": "e30",
                                                  "payload": "",
                                                  "signature": ""}},
                 key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json() == before


@pytest.mark.parametrize("status", ["valid", "revoked"])
def test_rfc8555_7_3_2_update_ignores_status_other_than_deactivated(
        raw, status):
    key, kid = raw.new_account()
    r = raw.post(kid, {"status": status,
                       "contact": ["mailto:upd@example.test"]}, key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "valid"
    assert r.json()["contact"] == ["mailto:upd@example.test"]


# --- 7.3.4 external account binding ------------------------------------------

def test_rfc8555_7_3_4_verified_binding_is_reflected(strict, eab_key):
    key = ec_key()
    payload = _strict_payload(strict, eab_key, key)
    r = strict.post(strict.dir["newAccount"], payload, key)
    assert r.status_code == 201, r.text
    assert r.json().get("externalAccountBinding") \
        == payload["externalAccountBinding"]


def test_rfc8555_7_3_4_unverified_binding_is_not_reflected(raw):
    """The default CA does not use EAB: it ignores the field and must not
    reflect it."""
    key = ec_key()
    binding = _eab(raw.dir["newAccount"], "some-kid", b"k" * 32, key)
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True, "externalAccountBinding": binding},
        key)
    assert r.status_code == 201, r.text
    assert "externalAccountBinding" not in r.json()


@pytest.mark.parametrize("fault", ["alg-not-mac", "url-differs",
                                   "alg-none"])
def test_rfc8555_7_3_4_binding_header_criteria(strict, eab_key, fault):
    key = ec_key()
    kw = {"alg-not-mac": {"alg": "ES256"},
          "alg-none": {"alg": "none"},
          "url-differs": {"extra": {"url": strict.dir["newOrder"]}}}[fault]
    payload = _strict_payload(strict, eab_key, key, **kw)
    r = strict.post(strict.dir["newAccount"], payload, key)
    assert r.status_code in (400, 403), r.text
    assert r.json()["type"].rsplit(":", 1)[1] in (
        "malformed", "unauthorized", "badSignatureAlgorithm"), r.text
    # the binding key is still unused
    r = strict.post(strict.dir["newAccount"],
                    _strict_payload(strict, eab_key, key), key)
    assert r.status_code == 201, r.text


# --- 7.3.5 key rollover ------------------------------------------------------

def test_rfc8555_7_3_5_key_change_keeps_orders_and_authorizations(
        raw, http01_server):
    key, kid, ready_url, ready = ready_order(raw, http01_server,
                                             ["roll.example.test"])
    pending_url, pending = new_order(raw, key, kid, ["roll2.example.test"])
    new = ec_key()
    r = _key_change(raw, kid, key, new)
    assert r.status_code == 200, r.text
    assert raw.post(pending_url, b"", new, kid=kid).json()["status"] \
        == "pending"
    a = raw.post(pending["authorizations"][0], b"", new, kid=kid).json()
    assert a["status"] == "pending"
    assert raw.post(ready_url, b"", new, kid=kid).json()["status"] == "ready"
    from acmehelp import csr_der
    der_csr, _ = csr_der(["roll.example.test"])
    r = raw.post(ready["finalize"], {"csr": b64(der_csr)}, new, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "valid", r.text


def test_rfc8555_7_3_5_key_change_to_own_key_is_409(raw):
    key, kid = raw.new_account()
    r = _key_change(raw, kid, key, key)
    assert_problem(r, 409, "malformed")
    assert r.headers["Location"] == kid


def test_rfc8555_7_3_5_key_change_by_deactivated_account(raw):
    key, kid = raw.new_account()
    assert raw.post(kid, {"status": "deactivated"}, key,
                    kid=kid).status_code == 200
    r = _key_change(raw, kid, key, ec_key())
    assert r.status_code in (401, 403), r.text
    assert r.json()["type"].endswith(":unauthorized")


# --- 7.3.6 deactivation ------------------------------------------------------

def test_rfc8555_7_3_6_only_the_account_key_can_deactivate(raw):
    key, kid = raw.new_account()
    key2, kid2 = raw.new_account()
    # signed by another account, for this account's URL
    assert_problem(raw.post(kid, {"status": "deactivated"}, key2, kid=kid2),
                   403, "unauthorized")
    # this account's kid, another key
    assert_problem(raw.post(kid, {"status": "deactivated"}, key2, kid=kid),
                   400, "malformed")
    assert raw.post(kid, b"", key, kid=kid).json()["status"] == "valid"


def test_rfc8555_7_3_6_deactivated_account_gets_401(raw):
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["deact401.example.test"])
    r = raw.post(kid, {"status": "deactivated"}, key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "deactivated"
    for target, payload in ((kid, b""), (url, b""),
                            (o["authorizations"][0], b""),
                            (raw.dir["newOrder"], {"identifiers": [
                                {"type": "dns",
                                 "value": "x.example.test"}]}),
                            (kid, {"status": "deactivated"})):
        assert_problem(raw.post(target, payload, key, kid=kid), 401,
                       "unauthorized")


def test_rfc8555_7_3_6_deactivated_account_is_refused(raw):
    """Whatever the status code: every kid request of a deactivated
    account is refused as unauthorized, reads included."""
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["deact.example.test"])
    assert raw.post(kid, {"status": "deactivated"}, key,
                    kid=kid).status_code == 200
    for target, payload in ((kid, b""), (kid + "/orders", b""), (url, b""),
                            (o["authorizations"][0], b""),
                            (o["finalize"], {"csr": "AA"}),
                            (raw.dir["revokeCert"], {"certificate": "AA"}),
                            (kid, {"contact": []})):
        r = raw.post(target, payload, key, kid=kid)
        assert r.status_code in (401, 403), (target, r.text)
        assert r.json()["type"].endswith(":unauthorized"), r.text


@pytest.mark.parametrize("payload", [{"termsOfServiceAgreed": True},
                                     {"onlyReturnExisting": True}],
                         ids=["new-account", "only-return-existing"])
def test_rfc8555_7_3_6_deactivated_key_cannot_use_new_account(raw,
                                                              payload):
    key, kid = raw.new_account()
    assert raw.post(kid, {"status": "deactivated"}, key,
                    kid=kid).status_code == 200
    r = raw.post(raw.dir["newAccount"], payload, key)
    assert r.status_code in (401, 403), r.text
    assert r.json()["type"].endswith(":unauthorized")


def test_rfc8555_7_3_6_deactivation_does_not_revoke_certificates(
        raw, http01_server):
    key, kid, _, _, leaf, cert_key, _ = issued(raw, http01_server,
                                               ["keepcert.example.test"])
    assert raw.post(kid, {"status": "deactivated"}, key,
                    kid=kid).status_code == 200
    # not revoked by the deactivation: its own key can still revoke it
    r = raw.post(raw.dir["revokeCert"], {"certificate": b64(der(leaf))},
                 jose.JWKEC(key=cert_key))
    assert r.status_code == 200, r.text
