"""dns-01 (RFC 8555 8.4) through the real validator and the stack's Knot."""


def q(s):
    return '"%s"' % s


def test_rfc8555_8_4_txt_record_valid(dns, job):
    name = "d1." + dns.base
    j = job(name, "dns-01", queue=False)
    dns.add("_acme-challenge." + name, "TXT", q(j.txt))
    j.queue()
    status, prob, record = j.result()
    assert status == "valid", prob
    rec = record[0]
    assert rec["hostname"] == "_acme-challenge." + name
    assert rec["txt"] == [j.txt]
    assert rec["resolver"].startswith("127.0.0.1:")
    # the CAA check ran after it and found the base's record
    assert record[-1]["caa"]["result"] == "permitted"
    assert record[-1]["caa"]["relevantName"] == dns.base


def published(dns, job, name, *rdata, **kw):
    """a job whose TXT records exist before it is queued"""
    j = job(name, kw.get("ctype", "dns-01"), queue=False,
            wildcard=kw.get("wildcard", False))
    dns.add("_acme-challenge." + name, "TXT",
            *[r(j) if callable(r) else r for r in rdata])
    j.queue()
    return j


def test_rfc8555_8_4_multi_string_txt_is_joined(dns, job):
    j = published(dns, job, "d2." + dns.base,
                  lambda j: "%s %s" % (q(j.txt[:20]), q(j.txt[20:])))
    status, prob, record = j.result()
    assert status == "valid", prob
    assert record[0]["txt"] == [j.txt]


def test_rfc8555_8_4_every_txt_record_is_considered(dns, job):
    j = published(dns, job, "d3." + dns.base, q("unrelated"),
                  q("v=spf1 -all"), lambda j: q(j.txt))
    status, prob, record = j.result()
    assert status == "valid", prob
    assert len(record[0]["txt"]) == 3


def test_rfc7766_truncated_answer_retried_over_tcp(dns, job):
    # 12 x 250 octets: far above the EDNS UDP size of 1232
    j = published(dns, job, "d4." + dns.base,
                  *[q("%02d" % i + "x" * 248) for i in range(12)],
                  lambda j: q(j.txt))
    status, prob, record = j.result()
    assert status == "valid", prob
    assert len(record[0]["txt"]) == 13


def test_rfc8555_8_4_cname_is_followed(dns, job):
    name = "d5." + dns.base
    target = "target-d5." + dns.base
    j = job(name, "dns-01", queue=False)
    dns.add("_acme-challenge." + name, "CNAME", target + ".")
    dns.add(target, "TXT", q(j.txt))
    j.queue()
    status, prob, record = j.result()
    assert status == "valid", prob
    assert record[0]["cnames"] == [target]
    assert record[0]["answerName"] == target


def test_rfc8555_8_4_wildcard_uses_base_name(dns, job):
    name = "d6." + dns.base
    j = published(dns, job, name, lambda j: q(j.txt), wildcard=True)
    status, prob, record = j.result()
    assert status == "valid", prob
    assert record[0]["hostname"] == "_acme-challenge." + name


def test_rfc8555_8_4_wrong_value_is_incorrect_response(dns, job):
    j = published(dns, job, "d7." + dns.base, q("not-the-digest"),
                  q("y" * 200))
    status, prob, record = j.result()
    assert status == "invalid"
    assert prob["type"] == "incorrectResponse"
    assert '"not-the-digest"' in prob["detail"]
    assert j.txt in prob["detail"]
    assert len(prob["detail"]) < 512
    # no CAA check after a failed challenge
    assert "caa" not in record[-1]


def test_rfc8555_8_4_missing_record_is_unauthorized(dns, job):
    name = "d8." + dns.base
    j = job(name, "dns-01")
    status, prob, _ = j.result()
    assert status == "invalid"
    assert prob["type"] == "unauthorized"
    assert "_acme-challenge." + name in prob["detail"]


def test_rfc8555_8_4_no_txt_at_existing_name_is_unauthorized(dns, job):
    name = "d9." + dns.base
    dns.add("_acme-challenge." + name, "CAA",
            '0 iodef "mailto:hostmaster@example.test"')
    j = job(name, "dns-01")
    status, prob, _ = j.result()
    assert status == "invalid"
    assert prob["type"] == "unauthorized"


def test_rfc8555_8_4_lookup_failure_is_dns_problem(dns, job):
    # Knot answers REFUSED for the CNAME's target outside its zone
    name = "d10." + dns.base
    dns.add("_acme-challenge." + name, "CNAME", "elsewhere.invalid.")
    j = job(name, "dns-01")
    status, prob, record = j.result()
    assert status == "invalid"
    assert prob["type"] == "dns"
    assert "REFUSED" in prob["detail"]
    assert record[0]["cnames"] == ["elsewhere.invalid"]


def test_rfc8738_7_dns01_refuses_ip_identifier(job):
    j = job("127.0.0.1", "dns-01", ident_type="ip")
    status, prob, _ = j.result()
    assert status == "invalid"
    assert prob["type"] == "unsupportedIdentifier"
