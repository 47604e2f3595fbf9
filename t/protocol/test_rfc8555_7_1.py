"""RFC 8555 7.1 (resources, directory, objects, status changes), with the
headers every response carries (6.5 Replay-Nonce, 7.1 Link rel="index").

A module fixture walks one account through the whole life cycle once and
keeps every response; the tests then check each rule over all of them."""


import pytest
from cryptography import x509

from acmehelp import Http01Server, Raw, assert_problem, b64, csr_der, ec_key
from test_rfc8555_common import (answer_http01, der, last, load_chain,
                                 new_order, poll, ready_order, sql)

TOUR_NAMES = ["tour.example.test", "www.tour.example.test"]


def _key_change(raw, kid, old, new):
    import json
    import josepy as jose
    from acme import jws as acme_jws
    url = raw.dir["keyChange"]
    inner = acme_jws.JWS.sign(
        json.dumps({"account": kid,
                    "oldKey": old.public_key().to_partial_json()}).encode(),
        key=new, alg=jose.ES256, nonce=None, url=url)
    return raw.post(url, json.loads(inner.json_dumps()), old, kid=kid)


@pytest.fixture(scope="module")
def tour(session, directory_url, http01_port):
    """Runs the life cycle; returns {label: response} (in order) and the
    order snapshots."""
    responses = {}
    snaps = {}

    def rec(label, r):
        responses[label] = r
        return r

    raw = Raw(session, directory_url)
    rec("directory", session.get(directory_url, timeout=10))
    rec("newNonce HEAD", session.head(raw.dir["newNonce"], timeout=10))
    rec("newNonce GET", session.get(raw.dir["newNonce"], timeout=10))
    key = ec_key()
    r = rec("newAccount 201", raw.post(raw.dir["newAccount"], {
        "termsOfServiceAgreed": True,
        "contact": ["mailto:tour@example.test"]}, key))
    kid = r.headers["Location"]
    rec("newAccount 200", raw.post(raw.dir["newAccount"],
                                   {"onlyReturnExisting": True}, key))
    rec("account", raw.post(kid, b"", key, kid=kid))
    rec("account update", raw.post(kid, {"contact": [
        "mailto:tour2@example.test"]}, key, kid=kid))
    r = rec("newOrder", raw.new_order(key, kid, TOUR_NAMES))
    url = r.headers["Location"]
    snaps["pending"] = rec("order pending", raw.post(url, b"", key,
                                                     kid=kid)).json()
    authzs = snaps["pending"]["authorizations"]
    rec("authz pending", raw.post(authzs[0], b"", key, kid=kid))
    ch_url = next(c["url"] for c in responses["authz pending"].json()
                  ["challenges"] if c["type"] == "http-01")
    rec("challenge pending", raw.post(ch_url, b"", key, kid=kid))

    with Http01Server(http01_port) as srv:
        for i, az in enumerate(authzs):
            r = answer_http01(raw, srv.responses, key, kid, az)
            if i == 0:
                rec("challenge response", r)
        snaps["ready"] = poll(raw, key, kid, url)
    rec("challenge valid", raw.post(ch_url, b"", key, kid=kid))
    rec("authz valid", raw.post(authzs[0], b"", key, kid=kid))
    rec("order ready", raw.post(url, b"", key, kid=kid))
    rec("orders list", raw.post(kid + "/orders", b"", key, kid=kid))
    der_csr, cert_key = csr_der(TOUR_NAMES)
    rec("finalize", raw.post(snaps["ready"]["finalize"],
                             {"csr": b64(der_csr)}, key, kid=kid))
    snaps["valid"] = poll(raw, key, kid, url)
    rec("order valid", raw.post(url, b"", key, kid=kid))
    rec("certificate", raw.post(snaps["valid"]["certificate"], b"", key,
                                kid=kid))
    new_key = ec_key()
    rec("keyChange", _key_change(raw, kid, key, new_key))
    key = new_key
    leaf = load_chain(responses["certificate"].text)[0]
    rec("revokeCert", raw.post(raw.dir["revokeCert"], {
        "certificate": b64(der(leaf)), "reason": 4}, key, kid=kid))
    r = raw.new_order(key, kid, ["tour-deact.example.test"])
    rec("authz deactivate", raw.post(r.json()["authorizations"][0],
                                     {"status": "deactivated"}, key,
                                     kid=kid))
    # errors
    rec("error 400 badNonce", raw.post(kid, b"", key, kid=kid,
                                       nonce=b64(b"\0" * 32)))
    rec("error 404", raw.post(raw.base + "order/AAAAAAAAAAAAAAAAAAAAAA",
                              b"", key, kid=kid))
    rec("error 405", session.get(raw.dir["newOrder"], timeout=10))
    rec("error 415", raw.post(kid, b"", key, kid=kid,
                              content_type="application/json"))
    rec("account deactivate", raw.post(kid, {"status": "deactivated"}, key,
                                       kid=kid))
    rec("error unauthorized", raw.post(kid, b"", key, kid=kid))
    return {"raw": raw, "responses": responses, "snaps": snaps, "kid": kid,
            "order": url}


SUCCESS = ["newNonce HEAD", "newNonce GET", "newAccount 201",
           "newAccount 200", "account", "account update", "newOrder",
           "order pending", "authz pending", "challenge pending",
           "challenge response", "challenge valid", "authz valid",
           "order ready", "orders list", "finalize", "order valid",
           "certificate", "keyChange", "revokeCert", "authz deactivate",
           "account deactivate"]
ERRORS = ["error 400 badNonce", "error 404", "error 405", "error 415",
          "error unauthorized"]


def test_rfc8555_7_1_tour_went_as_expected(tour):
    for label in SUCCESS:
        assert tour["responses"][label].status_code < 300, \
            (label, tour["responses"][label].text)
    for label in ERRORS:
        assert tour["responses"][label].status_code >= 400, label


@pytest.mark.parametrize("label", SUCCESS + ERRORS)
def test_rfc8555_6_5_replay_nonce_on_every_response(tour, label):
    """MUST on every successful response to a POST, SHOULD on errors; the
    server gives one on everything, HEAD/GET newNonce included."""
    r = tour["responses"][label]
    assert r.headers.get("Replay-Nonce"), (label, r.headers)


@pytest.mark.parametrize("label", SUCCESS + ERRORS)
def test_rfc8555_7_1_index_link_on_every_resource(tour, label):
    r = tour["responses"][label]
    assert r.links.get("index", {}).get("url") == tour["raw"].dir_url, \
        (label, r.headers.get("Link"))


def test_rfc8555_7_1_created_resources_have_location(tour):
    rs = tour["responses"]
    assert rs["newAccount 201"].status_code == 201
    assert rs["newAccount 201"].headers["Location"] == tour["kid"]
    assert rs["newAccount 200"].headers["Location"] == tour["kid"]
    assert rs["newOrder"].status_code == 201
    assert rs["newOrder"].headers["Location"] == tour["order"]


def test_rfc8555_7_1_1_directory_object(tour):
    r = tour["responses"]["directory"]
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    d = r.json()
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert",
                 "keyChange"):
        assert isinstance(d[name], str) and d[name].startswith("https://")
    assert "newAuthz" not in d            # no pre-authorization (7.4.1)
    assert isinstance(d.get("meta", {}), dict)
    assert d["meta"]["externalAccountRequired"] is False


def test_rfc8555_7_1_2_account_object(tour):
    rs = tour["responses"]
    for label in ("newAccount 201", "newAccount 200", "account",
                  "account update", "keyChange", "account deactivate"):
        a = rs[label].json()
        assert a["status"] in ("valid", "deactivated"), (label, a)
        assert a["orders"] == tour["kid"] + "/orders", (label, a)
        assert all(c.startswith("mailto:") for c in a.get("contact", []))
    assert rs["account deactivate"].json()["status"] == "deactivated"


def test_rfc8555_7_1_2_1_orders_list_object(tour):
    r = tour["responses"]["orders list"]
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert tour["order"] in r.json()["orders"]


def test_rfc8555_7_1_3_order_object_fields(tour):
    for state, o in tour["snaps"].items():
        assert o["status"] == state
        for field in ("identifiers", "authorizations", "finalize"):
            assert field in o, (state, o)
        if state in ("pending", "valid"):
            assert o["expires"].endswith("Z"), (state, o)
        assert ("certificate" in o) == (state == "valid"), (state, o)


def test_rfc8555_7_1_3_identifiers_and_authorizations_are_immutable(tour):
    snaps = list(tour["snaps"].values()) + [
        tour["responses"]["newOrder"].json(),
        tour["responses"]["finalize"].json()]
    for o in snaps[1:]:
        assert o["identifiers"] == snaps[0]["identifiers"]
        assert o["authorizations"] == snaps[0]["authorizations"]
    assert sorted(i["value"] for i in snaps[0]["identifiers"]) \
        == sorted(TOUR_NAMES)


def test_rfc8555_7_1_4_authorization_object(tour):
    rs = tour["responses"]
    pending, valid = rs["authz pending"].json(), rs["authz valid"].json()
    for a in (pending, valid):
        assert a["identifier"]["type"] == "dns"
        assert a["identifier"]["value"] in TOUR_NAMES
        assert "wildcard" not in a, a          # MUST be absent
        assert a["challenges"], a
        for c in a["challenges"]:
            assert {"type", "url", "status", "token"} <= set(c), c
    assert valid["status"] == "valid" and valid["expires"].endswith("Z")
    done = [c for c in valid["challenges"] if c["status"] == "valid"]
    assert len(done) == 1 and done[0]["validated"].endswith("Z"), valid


def test_rfc8555_7_1_5_challenge_object(tour):
    rs = tour["responses"]
    p, v = rs["challenge pending"].json(), rs["challenge valid"].json()
    assert p["status"] == "pending" and "validated" not in p
    assert "error" not in p and "error" not in v
    assert v["status"] == "valid" and v["validated"].endswith("Z")
    assert p["url"] == v["url"] and p["token"] == v["token"]


def test_rfc8555_7_1_6_status_transitions_of_a_good_life(tour):
    rs = tour["responses"]
    assert rs["challenge pending"].json()["status"] == "pending"
    assert rs["challenge response"].json()["status"] in ("processing",
                                                         "valid")
    assert rs["challenge valid"].json()["status"] == "valid"
    assert rs["authz pending"].json()["status"] == "pending"
    assert rs["authz valid"].json()["status"] == "valid"
    assert [tour["snaps"][s]["status"] for s in ("pending", "ready",
                                                 "valid")] \
        == ["pending", "ready", "valid"]
    assert rs["finalize"].json()["status"] in ("processing", "valid")
    assert rs["authz deactivate"].json()["status"] == "deactivated"
    assert rs["newAccount 201"].json()["status"] == "valid"
    assert rs["account deactivate"].json()["status"] == "deactivated"


def test_rfc8555_7_4_2_certificate_is_the_ordered_chain(tour, ca_cert_path):
    r = tour["responses"]["certificate"]
    assert r.headers["Content-Type"] == "application/pem-certificate-chain"
    chain = load_chain(r.text)
    assert len(chain) >= 2
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(TOUR_NAMES)
    for child, parent in zip(chain, chain[1:]):
        assert child.issuer == parent.subject
    ca = x509.load_pem_x509_certificate(open(ca_cert_path, "rb").read())
    assert chain[-1].issuer == ca.subject or chain[-1] == ca


# --- not part of the tour ----------------------------------------------------

@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def test_rfc8555_7_1_2_1_orders_list_omits_invalid_orders(raw):
    key, kid = raw.new_account()
    keep, _ = new_order(raw, key, kid, ["keep.example.test"])
    drop, o = new_order(raw, key, kid, ["drop.example.test"])
    r = raw.post(o["authorizations"][0], {"status": "deactivated"}, key,
                 kid=kid)
    assert r.status_code == 200, r.text
    assert raw.post(drop, b"", key, kid=kid).json()["status"] == "invalid"
    r = raw.post(kid + "/orders", b"", key, kid=kid)
    assert r.json()["orders"] == [keep]


def test_rfc8555_7_1_3_wildcard_authorization_and_plain_one(raw):
    key, kid = raw.new_account()
    _, o = new_order(raw, key, kid, ["*.wild.example.test",
                                     "plain.example.test"])
    seen = {}
    for az in o["authorizations"]:
        a = raw.post(az, b"", key, kid=kid).json()
        seen[a["identifier"]["value"]] = a
    assert set(seen) == {"wild.example.test", "plain.example.test"}
    assert seen["wild.example.test"]["wildcard"] is True
    assert "wildcard" not in seen["plain.example.test"]


@pytest.mark.parametrize("label", ["xn--xx", "xn--99999999", "xn--a",
                                   "xn--abc"])
def test_rfc8555_7_1_4_bad_a_label_is_rejected(raw, label):
    key, kid = raw.new_account()
    r = raw.new_order(key, kid, [label + ".example.test"])
    assert r.status_code == 400, r.text
    assert r.json()["type"] in ("urn:ietf:params:acme:error:rejectedIdentifier",
                                "urn:ietf:params:acme:error:malformed")


def test_rfc8555_7_1_4_good_a_label_is_accepted(raw):
    key, kid = raw.new_account()
    _, o = new_order(raw, key, kid, ["xn--bcher-kva.example.test"])
    assert o["identifiers"][0]["value"] == "xn--bcher-kva.example.test"


def test_rfc8555_7_1_6_expired_order_is_invalid(raw, stack_env):
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["expired-order.example.test"])
    sql(stack_env, "UPDATE orders SET expires = now() - interval '1 s' "
        "WHERE public_id = '%s'" % last(url))
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "invalid"
    der_csr, _ = csr_der(["expired-order.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der_csr)}, key, kid=kid)
    assert_problem(r, 403, "orderNotReady")


def test_rfc8555_7_1_6_expired_pending_authorization(raw, stack_env):
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["expired-authz.example.test"])
    az = o["authorizations"][0]
    sql(stack_env, "UPDATE authorizations SET expires = now() - "
        "interval '1 s' WHERE public_id = '%s'" % last(az))
    assert raw.post(az, b"", key, kid=kid).json()["status"] == "expired"


@pytest.mark.parametrize("state", ["pending", "ready"])
def test_rfc8555_7_1_6_order_with_expired_authorization_is_invalid(
        raw, stack_env, http01_server, state):
    names = ["expired-%s.example.test" % state]
    if state == "ready":
        key, kid, url, o = ready_order(raw, http01_server, names)
    else:
        key, kid = raw.new_account()
        url, o = new_order(raw, key, kid, names)
    sql(stack_env, "UPDATE authorizations SET expires = now() - "
        "interval '1 s' WHERE public_id = '%s'"
        % last(o["authorizations"][0]))
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "invalid"
    der_csr, _ = csr_der(names)
    r = raw.post(o["finalize"], {"csr": b64(der_csr)}, key, kid=kid)
    assert_problem(r, 403, "orderNotReady")


def test_rfc8555_7_1_6_failed_challenge_invalidates_authz_and_order(
        raw, http01_server):
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["fails.example.test"])
    az = o["authorizations"][0]
    a = raw.post(az, b"", key, kid=kid).json()
    ch = next(c for c in a["challenges"] if c["type"] == "http-01")
    http01_server[ch["token"]] = "wrong"
    r = raw.post(ch["url"], {}, key, kid=kid)
    assert r.status_code == 200, r.text
    a = poll(raw, key, kid, az)
    assert a["status"] == "invalid", a
    failed = next(c for c in a["challenges"] if c["url"] == ch["url"])
    assert failed["status"] == "invalid"            # kept (7.5.1 SHOULD)
    assert failed["error"]["type"].startswith("urn:ietf:params:acme:error:")
    o = raw.post(url, b"", key, kid=kid).json()
    assert o["status"] == "invalid", o
    assert o["authorizations"] == [az]
