"""DNSSEC validation (dnssec_trust_anchor; RFC 4033-4035) through the
real validator and the stack's Knot.

The stack serves three zones: example.test (unsigned, no trust anchor
covers it: "insecure"), dnssec.test (signed by Knot, its KSK is a trust
anchor: "secure") and bogus.test (signed once with ldns-signzone, then
altered: www's A record and caa's CAA record no longer match their
signatures, and records added by RFC 2136 have none).  A validator with
the anchors must refuse every bogus answer with a "dns" problem, and
treat the others as before.
"""

import pathlib
import subprocess

import pytest
from cryptography import x509

from conftest import VALIDATOR, Zone
from test_tlsalpn01 import Server, make_cert, octets


def q(s):
    return '"%s"' % s


@pytest.fixture(scope="module")
def signed(stack_env):
    z = Zone(stack_env, "dnssec.test")
    yield z
    z.cleanup()


@pytest.fixture(scope="module")
def bogus(stack_env):
    z = Zone(stack_env, "bogus.test")
    yield z
    z.cleanup()


@pytest.fixture(scope="module")
def server(validator_dnssec):
    s = Server(validator_dnssec.tls_port)
    yield s
    s.close()


def dns01(zone, job, name):
    j = job(name, "dns-01", queue=False)
    zone.add("_acme-challenge." + name, "TXT", q(j.txt))
    j.queue()
    return j.result()


def test_rfc4035_secure_zone_dns01_is_valid(signed, job_dnssec):
    # Knot signs the RFC 2136 update at once
    name = "s1." + signed.base
    status, prob, record = dns01(signed, job_dnssec, name)
    assert status == "valid", prob
    assert record[0]["hostname"] == "_acme-challenge." + name
    assert record[0]["dnssec"] == "secure"
    # CAA climbed to the signed apex: validated too
    assert record[-1]["caa"]["result"] == "permitted"
    assert record[-1]["caa"]["relevantName"] == "dnssec.test"


def test_rfc4035_unsigned_zone_is_insecure_and_valid(dns, job_dnssec):
    # no trust anchor covers example.test (RFC 4035 4.3 "insecure")
    name = "s2." + dns.base
    status, prob, record = dns01(dns, job_dnssec, name)
    assert status == "valid", prob
    assert record[0]["dnssec"] == "insecure"


def test_rfc4035_5_5_unsigned_txt_in_signed_zone_is_bogus(bogus, job_dnssec):
    # the right value, but no RRSIG where the zone's keys require one
    name = "b1." + bogus.base
    status, prob, record = dns01(bogus, job_dnssec, name)
    assert status == "invalid"
    assert prob["type"] == "dns"
    assert "DNSSEC validation failed (bogus)" in prob["detail"]
    assert "_acme-challenge." + name in prob["detail"]


def test_rfc4035_5_5_altered_address_is_bogus(job_dnssec):
    # www.bogus.test A 127.0.0.1 was signed as 127.0.0.2: no connection is
    # tried, whatever listens there
    j = job_dnssec("www.bogus.test", "http-01")
    status, prob, _ = j.result()
    assert status == "invalid"
    assert prob["type"] == "dns"
    assert "DNSSEC validation failed (bogus)" in prob["detail"]
    assert "www.bogus.test" in prob["detail"]


def test_rfc8659_5_4_bogus_caa_refuses_issuance(job_dnssec, server, tmp_path):
    # caa.bogus.test has a validly signed A record, so tls-alpn-01 passes;
    # its CAA RRset (altered to name this CA) is bogus: RFC 8659 5.4 says
    # a failed lookup must not be read as permission
    name = "caa.bogus.test"
    j = job_dnssec(name, "tls-alpn-01", queue=False)
    server.configure(make_cert(tmp_path, [x509.DNSName(name)],
                               octets(j.digest)))
    j.queue()
    status, prob, record = j.result()
    assert server.sni == [name]
    assert status == "invalid"
    assert prob["type"] == "dns"
    assert "DNSSEC validation failed (bogus)" in prob["detail"]
    assert "CAA" in prob["detail"]


def test_without_anchor_the_bogus_answers_are_used(bogus, job):
    # the contrast: the validator without dnssec_trust_anchor takes the
    # altered record, so the refusals above come from validation
    name = "b2." + bogus.base
    status, prob, record = dns01(bogus, job, name)
    assert status == "valid", prob
    assert "dnssec" not in record[0]


def check_config(stack_env, tmp_path, anchor_text):
    anchor = tmp_path / "anchors"
    anchor.write_text(anchor_text)
    conf = tmp_path / "v.conf"
    conf.write_text("database = %s\nresolver = 127.0.0.1:%s\n"
                    "dnssec_trust_anchor = %s\n"
                    % (stack_env["ACME_DB_CONNINFO"], stack_env["DNSPORT"],
                       anchor))
    r = subprocess.run([str(VALIDATOR), "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    return r.returncode, r.stderr, str(anchor)


def test_trust_anchor_file_is_checked_at_start(stack_env, tmp_path):
    # Debian's root anchor (dns-root-data) is the production choice
    rc, err, _ = check_config(stack_env, tmp_path,
                              pathlib.Path("/usr/share/dns/root.key")
                              .read_text())
    assert rc == 0, err
    rc, err, path = check_config(stack_env, tmp_path,
                                 "; comment\n$TTL 60\n"
                                 "example. IN DS 1 13 2 zz-not-hex\n")
    assert rc != 0
    assert path + ":3: " in err
    rc, err, path = check_config(stack_env, tmp_path,
                                 "example. 60 IN A 192.0.2.1\n")
    assert rc != 0
    assert "no DS or DNSKEY record" in err
