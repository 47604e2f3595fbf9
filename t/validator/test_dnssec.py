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

import os
import pathlib
import re
import shutil
import signal
import subprocess
import urllib.request

import pytest
from cryptography import x509

from conftest import (VALIDATOR, Zone, free_port, job_factory,
                      running_validator, wait_for)
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


def test_rfc4035_5_5_unsigned_txt_in_signed_zone_is_bogus(bogus, job_dnssec,
                                                         validator_dnssec):
    # the right value, but no RRSIG where the zone's keys require one
    name = "b1." + bogus.base
    status, prob, record = dns01(bogus, job_dnssec, name)
    assert status == "invalid"
    assert prob["type"] == "dns"
    assert "DNSSEC validation failed (bogus)" in prob["detail"]
    assert "_acme-challenge." + name in prob["detail"]
    # counted apart from other DNS failures
    metrics = urllib.request.urlopen(
        "http://127.0.0.1:%d/metrics" % validator_dnssec.metrics_port,
        timeout=5).read().decode()
    assert re.search(r'^acme_validator_errors_total\{kind="dnssec"\} [1-9]',
                     metrics, re.M), metrics


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


def check_config(stack_env, tmp_path, anchor_text, path=None):
    anchor = tmp_path / "anchors"
    if isinstance(anchor_text, bytes):
        anchor.write_bytes(anchor_text)
    else:
        anchor.write_text(anchor_text)
    conf = tmp_path / "v.conf"
    conf.write_text("database = %s\nresolver = 127.0.0.1:%s\n"
                    "dnssec_trust_anchor = %s\n"
                    % (stack_env["ACME_DB_CONNINFO"], stack_env["DNSPORT"],
                       path or anchor))
    r = subprocess.run([str(VALIDATOR), "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20)
    return r.returncode, r.stderr, str(anchor)


ROOT_KEY = pathlib.Path("/usr/share/dns/root.key")


def test_trust_anchor_file_is_checked_at_start(stack_env, tmp_path):
    # Debian's root anchor (dns-root-data) is the production choice; an
    # editor's byte order mark is no error
    rc, err, _ = check_config(stack_env, tmp_path, ROOT_KEY.read_text())
    assert rc == 0, err
    rc, err, _ = check_config(stack_env, tmp_path,
                              b"\xef\xbb\xbf" + ROOT_KEY.read_bytes())
    assert rc == 0, err

    def refused(text, why, path=None):
        rc, err, anchor = check_config(stack_env, tmp_path, text, path)
        assert rc != 0, text
        assert why.replace("PATH", anchor) in err, err

    refused("; comment\n$TTL 60\nexample. IN DS 1 13 2 zz-not-hex\n",
            "PATH:3: ")
    refused("; nothing\n", "no DS or DNSKEY record")
    refused("example. 60 IN A 192.0.2.1\n", "is not a DS or DNSKEY record")
    refused("example. 60 CH DS 1 13 2 %s\n" % ("ab" * 32),
            "is not of class IN")
    refused("example. 60 IN DS 1 13 99 %s\n" % ("ab" * 32),
            "digest type that is not validated")
    refused("example. 60 IN DS 1 200 2 %s\n" % ("ab" * 32),
            "algorithm that is not validated")
    refused(". IN DS 20326 8 2 E06D44\n", "digest whose length")
    refused(". IN DS 20326 8 1 %s\n" % ("ab" * 32), "digest whose length")
    # a directory or a FIFO must not hang -t, start-up or SIGHUP
    refused("", "not a regular file", path=str(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused("", "not a regular file", path=str(fifo))
    # daemon() changes to "/"
    refused("", "must be an absolute path", path="anchors")


def test_anchors_are_kept_until_a_successful_reload(stack_env, bogus,
                                                    account, tmp_path):
    """the anchors are read at start and on SIGHUP, not per question: an
    emptied or half-written file changes nothing, and a reload that fails
    keeps the running anchors"""
    anchor = tmp_path / "anchors"
    shutil.copy(stack_env["DNSSEC_TRUST_ANCHOR"], anchor)
    with running_validator(stack_env, tmp_path,
                           "dnssec_trust_anchor = %s\n" % anchor) as v:
        jobs = job_factory(stack_env, v, account)
        anchor.write_text("")
        status, prob, _ = dns01(bogus, jobs, "k1." + bogus.base)
        assert status == "invalid" and prob["type"] == "dns", prob
        assert "bogus" in prob["detail"]
        anchor.write_text("; half\nbogus.test. IN DS 1 13 2 zz\n")
        v.proc.send_signal(signal.SIGHUP)
        wait_for("the reload to be refused",
                 lambda: "keeping the running configuration"
                 in v.log.read_text())
        status, prob, _ = dns01(bogus, jobs, "k2." + bogus.base)
        assert status == "invalid" and prob["type"] == "dns", prob
        assert "bogus" in prob["detail"]


def test_resolvers_are_tried_in_order(stack_env, signed, account, tmp_path):
    # nothing answers on the first one: the second answers, and the record
    # names it
    dead = free_port()
    knot = "127.0.0.1:%s" % stack_env["DNSPORT"]
    with running_validator(stack_env, tmp_path,
                           "dnssec_trust_anchor = %s\n"
                           % stack_env["DNSSEC_TRUST_ANCHOR"],
                           resolvers=["127.0.0.1:%d" % dead, knot]) as v:
        jobs = job_factory(stack_env, v, account)
        status, prob, record = dns01(signed, jobs, "o1." + signed.base)
        assert status == "valid", prob
        assert record[0]["resolver"] == knot
        assert record[0]["dnssec"] == "secure"


def test_nothing_is_cached_between_lookups(stack_env, signed, account,
                                           tmp_path):
    """one worker, so one libunbound context answers both lookups: the
    TXT record published after the first (failed) check is seen by the
    second, and a removed one is missed again"""
    with running_validator(stack_env, tmp_path,
                           "dnssec_trust_anchor = %s\n"
                           % stack_env["DNSSEC_TRUST_ANCHOR"],
                           workers=1) as v:
        jobs = job_factory(stack_env, v, account)
        name = "c1." + signed.base
        j = jobs(name, "dns-01")
        status, prob, _ = j.result()
        assert status == "invalid" and prob["type"] == "unauthorized", prob
        j = jobs(name, "dns-01", queue=False)
        signed.add("_acme-challenge." + name, "TXT", q(j.txt))
        j.queue()
        status, prob, record = j.result()
        assert status == "valid", prob
        assert record[0]["dnssec"] == "secure"
        signed.delete("_acme-challenge." + name)
        status, prob, _ = jobs(name, "dns-01").result()
        assert status == "invalid" and prob["type"] == "unauthorized", prob
