"""RFC 8555 7.5: authorizations and challenges (responding, polling,
deactivation); the rules test_resources.py and test_bad_input.py leave."""

import time

import pytest

from acmehelp import Raw, assert_problem, b64, csr_der
from test_rfc8555_common import (answer_http01, last, new_order, poll,
                                 ready_order, sql, thumbprint)


@pytest.fixture
def raw(session, directory_url):
    return Raw(session, directory_url)


def _http01(raw, key, kid, authz_url):
    a = raw.post(authz_url, b"", key, kid=kid).json()
    return next(c for c in a["challenges"] if c["type"] == "http-01")


# --- 7.5.1 responding to challenges ---------------------------------------------

def test_rfc8555_7_5_1_unknown_response_fields_are_ignored(raw,
                                                           http01_server):
    """http-01 defines no response fields: a bogus keyAuthorization and an
    unknown member change nothing, the server validates with the key
    authorization it computes itself."""
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["ignore.example.test"])
    r = answer_http01(raw, http01_server, key, kid, o["authorizations"][0],
                      payload={"keyAuthorization": "bogus", "x-field": [1]})
    assert "keyAuthorization" not in r.json() and "x-field" not in r.json()
    assert poll(raw, key, kid, url)["status"] == "ready"


def test_rfc8555_7_5_1_post_as_get_does_not_start_validation(
        raw, http01_server):
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["readonly.example.test"])
    ch = _http01(raw, key, kid, o["authorizations"][0])
    http01_server[ch["token"]] = ch["token"] + "." + thumbprint(key)
    for _ in range(3):
        r = raw.post(ch["url"], b"", key, kid=kid)
        assert r.status_code == 200 and r.json()["status"] == "pending"
    time.sleep(1.5)
    assert http01_server.requests == []
    assert raw.post(ch["url"], b"", key, kid=kid).json()["status"] \
        == "pending"
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "pending"


def test_rfc8555_7_5_1_response_to_a_final_challenge_changes_nothing(
        raw, http01_server):
    key, kid, url, o = ready_order(raw, http01_server, ["again.example.test"])
    ch = _http01(raw, key, kid, o["authorizations"][0])
    assert ch["status"] == "valid"
    seen = len(http01_server.requests)
    r = raw.post(ch["url"], {}, key, kid=kid)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "valid"
    assert r.json()["validated"] == ch["validated"]
    time.sleep(0.5)
    assert len(http01_server.requests) == seen
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "ready"


def test_rfc8555_7_5_1_polling_while_processing(raw, stack_env):
    """While validation runs, polls are 200 and the challenge carries
    Retry-After (the state is set in the database: the validator is
    usually faster than a test)."""
    key, kid = raw.new_account()
    url, o = new_order(raw, key, kid, ["busy.example.test"])
    az = o["authorizations"][0]
    ch = _http01(raw, key, kid, az)
    sql(stack_env, "UPDATE challenges SET status = 'processing' "
        "WHERE public_id = '%s'" % last(ch["url"]))
    r = raw.post(ch["url"], b"", key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "processing"
    assert int(r.headers["Retry-After"]) >= 1
    r = raw.post(az, b"", key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "pending"


def test_rfc8555_7_5_1_response_that_starts_validation_has_no_retry_after(
        raw, http01_server):
    """the validation was just queued and usually ends within tens of
    milliseconds: no Retry-After holds the client for a second; a poll
    (and a repeated response) while it runs still has one"""
    key, kid = raw.new_account()
    _, o = new_order(raw, key, kid, ["quick.example.test"])
    r = answer_http01(raw, http01_server, key, kid, o["authorizations"][0])
    assert r.json()["status"] == "processing"
    assert "Retry-After" not in r.headers


def test_rfc8555_7_5_1_challenge_of_another_account_is_unauthorized(raw):
    key, kid = raw.new_account()
    _, o = new_order(raw, key, kid, ["theirs.example.test"])
    ch = _http01(raw, key, kid, o["authorizations"][0])
    key2, kid2 = raw.new_account()
    assert_problem(raw.post(ch["url"], {}, key2, kid=kid2), 403,
                   "unauthorized")
    assert raw.post(ch["url"], b"", key, kid=kid).json()["status"] \
        == "pending"


# --- 7.5.2 deactivating an authorization -----------------------------------------

def test_rfc8555_7_5_2_only_the_owner_can_deactivate(raw):
    key, kid = raw.new_account()
    _, o = new_order(raw, key, kid, ["owner.example.test"])
    az = o["authorizations"][0]
    key2, kid2 = raw.new_account()
    assert_problem(raw.post(az, {"status": "deactivated"}, key2, kid=kid2),
                   403, "unauthorized")
    assert raw.post(az, b"", key, kid=kid).json()["status"] == "pending"


def test_rfc8555_7_5_2_deactivated_authorization_is_not_sufficient(
        raw, http01_server):
    name = "relinquish.example.test"
    key, kid, url, o = ready_order(raw, http01_server, [name])
    az = o["authorizations"][0]
    r = raw.post(az, {"status": "deactivated"}, key, kid=kid)
    assert r.status_code == 200 and r.json()["status"] == "deactivated"
    assert raw.post(url, b"", key, kid=kid).json()["status"] == "invalid"
    der, _ = csr_der([name])
    assert_problem(raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid),
                   403, "orderNotReady")
    # a new order for the name is not satisfied by the deactivated authz
    _, o2 = new_order(raw, key, kid, [name])
    assert o2["status"] == "pending"
    assert o2["authorizations"] != [az]
    a = raw.post(o2["authorizations"][0], b"", key, kid=kid).json()
    assert a["status"] == "pending"
