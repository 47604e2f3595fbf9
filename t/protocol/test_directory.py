"""RFC 8555 7.1.1: the directory object."""

import pytest

RESOURCES = ("newNonce", "newAccount", "newOrder")


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_rfc8555_7_1_1_directory_lists_resources(session, directory_url,
                                                 http_directory_url, tls):
    url = directory_url if tls else http_directory_url
    r = session.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0].strip() \
        == "application/json"
    d = r.json()
    base = url.split("/acme/")[0] + "/"
    for name in RESOURCES:
        assert name in d, "directory lacks %s: %r" % (name, d)
        assert d[name].startswith(base), (name, d[name])
