"""RFC 8555 7.3-7.5: accounts, orders, authorizations, challenges and
finalize, each rule the server enforces."""


import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from acmehelp import Raw, assert_problem, b64, csr_der, ec_key

import josepy as jose


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


# --- newAccount (7.3) ---------------------------------------------------

def test_rfc8555_7_3_new_account_201_with_location(raw):
    key = ec_key()
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:admin@example.test"]}, key)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith(raw.base + "acct/")
    a = r.json()
    assert a["status"] == "valid"
    assert a["contact"] == ["mailto:admin@example.test"]
    assert a["orders"].startswith(r.headers["Location"])


def test_rfc8555_7_3_1_existing_key_returns_existing_account_200(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newAccount"], {"termsOfServiceAgreed": True}, key)
    assert r.status_code == 200, r.text
    assert r.headers["Location"] == kid


def test_rfc8555_7_3_1_only_return_existing_unknown_key(raw):
    r = raw.post(raw.dir["newAccount"], {"onlyReturnExisting": True},
                 ec_key())
    assert_problem(r, 400, "accountDoesNotExist")


def test_rfc8555_7_3_1_only_return_existing_known_key(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newAccount"], {"onlyReturnExisting": True}, key)
    assert r.status_code == 200, r.text
    assert r.headers["Location"] == kid


def test_rfc8555_7_3_unsupported_contact_scheme(raw):
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["tel:+15555555555"]},
        ec_key())
    assert_problem(r, 400, "unsupportedContact")


def test_rfc8555_7_3_invalid_contact(raw):
    r = raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True, "contact": ["mailto:nobody"]},
        ec_key())
    assert_problem(r, 400, "invalidContact")


def test_rfc8555_6_7_private_key_in_jwk_is_bad_public_key(raw):
    key = ec_key()
    jwk = key.fields_to_partial_json()     # includes "d"
    jwk["kty"] = "EC"
    from acmehelp import raw_jws
    body = raw_jws({"alg": "ES256", "nonce": raw.nonce(),
                    "url": raw.dir["newAccount"], "jwk": jwk},
                   {"termsOfServiceAgreed": True})
    r = raw.post(raw.dir["newAccount"], None, None, body=body)
    assert_problem(r, 400, "badPublicKey")


# --- account (7.3.2, 7.3.6) ----------------------------------------------

def test_rfc8555_7_3_2_account_post_as_get_and_update(raw):
    key, kid = raw.new_account()
    r = raw.post(kid, b"", key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "valid"
    r = raw.post(kid, {"contact": ["mailto:new@example.test"]}, key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["contact"] == ["mailto:new@example.test"]


def test_rfc8555_7_3_6_deactivated_account_is_unauthorized(raw):
    key, kid = raw.new_account()
    r = raw.post(kid, {"status": "deactivated"}, key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "deactivated"
    r = raw.new_order(key, kid, ["www.example.test"])
    assert_problem(r, 401, "unauthorized")


def test_rfc8555_7_1_2_1_orders_list(raw):
    key, kid = raw.new_account()
    o = raw.new_order(key, kid, ["www.example.test"])
    assert o.status_code == 201, o.text
    r = raw.post(kid + "/orders", b"", key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["orders"] == [o.headers["Location"]]


def test_rfc8555_7_3_other_account_url_is_unauthorized(raw):
    key, kid = raw.new_account()
    _, other = raw.new_account()
    r = raw.post(other, b"", key, kid=kid)
    assert_problem(r, 403, "unauthorized")


# --- newOrder (7.4) ------------------------------------------------------

def test_rfc8555_7_4_new_order_201(raw):
    key, kid = raw.new_account()
    r = raw.new_order(key, kid, ["WWW.Example.Test", "www.example.test"])
    assert r.status_code == 201, r.text
    o = r.json()
    assert r.headers["Location"].startswith(raw.base + "order/")
    assert o["status"] == "pending"
    assert o["identifiers"] == [{"type": "dns", "value": "www.example.test"}]
    assert len(o["authorizations"]) == 1
    assert o["finalize"] == r.headers["Location"] + "/finalize"
    assert o["expires"].endswith("Z")


@pytest.mark.parametrize("name", [
    "example.test.", "a..example.test", "-a.example.test", "a_b.example.test",
    "b\u00fccher.example.test", "a.*.example.test", "localhost",
    "1.2.3.4", "x" * 64 + ".example.test"])
def test_rfc8555_7_4_bad_dns_identifier_is_rejected(raw, name):
    key, kid = raw.new_account()
    r = raw.new_order(key, kid, [name])
    assert_problem(r, 400, "rejectedIdentifier")


def test_rfc8555_7_4_unknown_identifier_type(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": [
        {"type": "email", "value": "a@example.test"}]}, key, kid=kid)
    assert_problem(r, 400, "unsupportedIdentifier")


def test_rfc8555_7_4_empty_identifiers_is_malformed(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.dir["newOrder"], {"identifiers": []}, key, kid=kid)
    assert_problem(r, 400, "malformed")


def test_rfc8555_7_4_other_accounts_order_is_unauthorized(raw):
    key, kid = raw.new_account()
    o = raw.new_order(key, kid, ["www.example.test"])
    key2, kid2 = raw.new_account()
    r = raw.post(o.headers["Location"], b"", key2, kid=kid2)
    assert_problem(r, 403, "unauthorized")
    r = raw.post(o.json()["authorizations"][0], b"", key2, kid=kid2)
    assert_problem(r, 403, "unauthorized")


def test_rfc8555_7_4_unknown_order_is_404(raw):
    key, kid = raw.new_account()
    r = raw.post(raw.base + "order/AAAAAAAAAAAAAAAAAAAAAA", b"", key,
                 kid=kid)
    assert_problem(r, 404, "malformed")


# --- authz and challenge (7.5) -------------------------------------------

def test_rfc8555_7_5_authz_and_challenge_objects(raw):
    key, kid = raw.new_account()
    o = raw.new_order(key, kid, ["www.example.test"]).json()
    r = raw.post(o["authorizations"][0], b"", key, kid=kid)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["identifier"] == {"type": "dns", "value": "www.example.test"}
    assert a["status"] == "pending"
    ch = next(c for c in a["challenges"] if c["type"] == "http-01")
    assert ch["status"] == "pending"
    assert len(jose.b64decode(ch["token"])) >= 16      # RFC 8555 8.3
    r = raw.post(ch["url"], b"", key, kid=kid)          # read only
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert 'rel="up"' in r.headers["Link"]
    assert o["authorizations"][0] in r.headers["Link"]


def test_rfc8555_7_5_2_authz_deactivation_invalidates_order(raw):
    key, kid = raw.new_account()
    resp = raw.new_order(key, kid, ["www.example.test"])
    o = resp.json()
    r = raw.post(o["authorizations"][0], {"status": "deactivated"}, key,
                 kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "deactivated"
    r = raw.post(resp.headers["Location"], b"", key, kid=kid)
    assert r.json()["status"] == "invalid"


# --- finalize (7.4) -------------------------------------------------------

def test_rfc8555_7_4_finalize_pending_order_is_order_not_ready(raw):
    key, kid = raw.new_account()
    o = raw.new_order(key, kid, ["www.example.test"]).json()
    der, _ = csr_der(["www.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert_problem(r, 403, "orderNotReady")


def _ready_order(raw, http01_server, names):
    import time
    key, kid = raw.new_account()
    resp = raw.new_order(key, kid, names)
    o = resp.json()
    thumb = jose.b64encode(key.public_key().thumbprint()).decode()
    for az_url in o["authorizations"]:
        a = raw.post(az_url, b"", key, kid=kid).json()
        ch = next(c for c in a["challenges"] if c["type"] == "http-01")
        http01_server[ch["token"]] = ch["token"] + "." + thumb
        r = raw.post(ch["url"], {}, key, kid=kid)
        assert r.status_code == 200, r.text
    for _ in range(100):
        o = raw.post(resp.headers["Location"], b"", key, kid=kid).json()
        if o["status"] != "pending":
            break
        time.sleep(0.1)
    assert o["status"] == "ready", o
    return key, kid, resp.headers["Location"], o


@pytest.mark.parametrize("case", [
    "extra-name", "missing-name", "cn-not-in-san", "account-key", "rsa-1024",
    "not-der"])
def test_rfc8555_7_4_bad_csr(raw, http01_server, case):
    key, kid, url, o = _ready_order(raw, http01_server,
                                    ["www.example.test", "example.test"])
    names = ["www.example.test", "example.test"]
    if case == "extra-name":
        der, _ = csr_der(names + ["mail.example.test"])
    elif case == "missing-name":
        der, _ = csr_der(names[:1])
    elif case == "cn-not-in-san":
        der, _ = csr_der(names, cn="other.example.test")
    elif case == "account-key":
        der, _ = csr_der(names, key=key.key._wrapped)
    elif case == "rsa-1024":
        der, _ = csr_der(names, key=rsa.generate_private_key(65537, 1024))
    else:
        der = b"this is not a CSR"
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert_problem(r, 400, "badCSR")
    # the order is still ready: a bad CSR does not spend it
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "ready"


def test_rfc8555_7_4_finalize_twice_issues_once(raw, http01_server):
    key, kid, url, o = _ready_order(raw, http01_server, ["www.example.test"])
    der, _ = csr_der(["www.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "valid"
    assert r.headers["Location"] == url
    r2 = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert_problem(r2, 403, "orderNotReady")
    cert = raw.post(done["certificate"], b"", key, kid=kid)
    assert cert.status_code == 200
    assert cert.headers["Content-Type"] == "application/pem-certificate-chain"
    assert cert.text.count("BEGIN CERTIFICATE") == 2
    _, kid2 = raw.new_account()
    other = raw.post(done["certificate"], b"", key, kid=kid)
    assert other.status_code == 200


# --- authorization reuse (7.1.3) and orders pagination (7.1.2.1) --------

def test_rfc8555_7_1_3_valid_authz_is_reused_order_ready(raw,
                                                         http01_server):
    key, kid, url, o = _ready_order(raw, http01_server, ["www.example.test"])
    r = raw.new_order(key, kid, ["www.example.test"])
    assert r.status_code == 201, r.text
    o2 = r.json()
    assert o2["authorizations"] == o["authorizations"]
    assert o2["status"] == "ready"
    der, _ = csr_der(["www.example.test"])
    f = raw.post(o2["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert f.status_code == 200 and f.json()["status"] == "valid", f.text


def test_rfc8555_7_1_2_1_orders_list_pagination(raw):
    key, kid = raw.new_account()
    made = [raw.new_order(key, kid, ["p%d.example.test" % i])
            .headers["Location"] for i in range(105)]
    seen, url, pages = [], kid + "/orders", 0
    while url and pages < 5:
        r = raw.post(url, b"", key, kid=kid)
        assert r.status_code == 200, r.text
        seen += r.json()["orders"]
        url = r.links.get("next", {}).get("url")
        pages += 1
    assert pages == 2
    assert seen == made


# --- alternate chains (7.4.2) --------------------------------------------

def test_rfc8555_7_4_2_alternate_chains(raw, http01_server):
    key, kid, url, o = _ready_order(raw, http01_server, ["alt.example.test"])
    der, _ = csr_der(["alt.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    cert_url = r.json()["certificate"]
    main = raw.post(cert_url, b"", key, kid=kid)
    assert main.status_code == 200
    alt_url = main.links["alternate"]["url"]
    assert alt_url == cert_url + "/1"
    alt = raw.post(alt_url, b"", key, kid=kid)
    assert alt.status_code == 200, alt.text
    assert alt.headers["Content-Type"] == "application/pem-certificate-chain"
    # the same end-entity certificate first, then another chain
    first = lambda t: t.split("-----END CERTIFICATE-----")[0]
    assert first(alt.text) == first(main.text)
    assert alt.text.count("BEGIN CERTIFICATE") == 3
    assert main.text.count("BEGIN CERTIFICATE") == 2
    assert alt.links["alternate"]["url"] == cert_url
    assert raw.post(cert_url + "/2", b"", key, kid=kid).status_code == 404
