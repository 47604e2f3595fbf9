"""CAA (RFC 8659, RFC 8657) after a passing dns-01 challenge.

The session's validator has caa_identities "acme.example.test,
ca2.example.test" and account_uri_prefix "https://127.0.0.1:8443/acme/acct/".
Each test publishes CAA records at its own name (under the session's base,
whose own record permits "acme.example.test") and a correct TXT record,
so only CAA can refuse.
"""

import secrets


from conftest import ACCOUNT_PREFIX


def caa_job(dns, job, label, caa=(), wildcard=False, at=None, name=None):
    name = name or "%s.%s" % (label, dns.base)
    if caa:
        dns.add(at or name, "CAA", *caa)
    j = job(name, "dns-01", wildcard=wildcard, queue=False)
    dns.add("_acme-challenge." + name, "TXT", '"%s"' % j.txt)
    j.queue()
    return j.result()


def refused(result, *words):
    status, prob, record = result
    assert status == "invalid", record
    assert prob["type"] == "caa", prob
    for w in words:
        assert w in prob["detail"], prob["detail"]
    assert record[-1]["caa"]["result"] == "refused"
    return prob, record[-1]["caa"]


def permitted(result):
    status, prob, record = result
    assert status == "valid", prob
    assert record[-1]["caa"]["result"].startswith("permitted")
    return record[-1]["caa"]


def test_rfc8659_4_2_issue_permits(dns, job):
    caa = permitted(caa_job(dns, job, "c1", ['0 issue "acme.example.test"',
                                             '0 iodef "mailto:a@b.test"']))
    assert caa["relevantName"] == "c1." + dns.base
    assert '0 issue "acme.example.test"' in caa["records"]


def test_rfc8659_4_2_issue_case_and_second_identity(dns, job):
    permitted(caa_job(dns, job, "c2", ['0 issue "other.example"',
                                       '0 ISSUE "CA2.Example.Test"']))


def test_rfc8659_4_2_issue_other_ca_forbids(dns, job):
    prob, _ = refused(caa_job(dns, job, "c3", ['0 issue "other-ca.example"']),
                      'issue "other-ca.example"', "c3." + dns.base)


def test_rfc8659_4_2_empty_issuer_forbids(dns, job):
    refused(caa_job(dns, job, "c4", ['0 issue ";"']), "no CA may issue")


def test_rfc8659_4_2_malformed_value_forbids(dns, job):
    refused(caa_job(dns, job, "c5", ['0 issue "acme.example.test; bad"']),
            "malformed")


def test_rfc8659_4_2_trailing_semicolon_forbids(dns, job):
    refused(caa_job(dns, job, "c6",
                    ['0 issue "acme.example.test; accounturi=x;"']))


def test_rfc8659_4_3_issuewild_for_wildcard(dns, job):
    rr = ['0 issue "acme.example.test"', '0 issuewild "other-ca.example"']
    refused(caa_job(dns, job, "c7", rr, wildcard=True), "wildcard",
            'issuewild "other-ca.example"')
    # the same records allow the name itself: issuewild is ignored
    permitted(caa_job(dns, job, "c7b", rr, at="c7b." + dns.base))


def test_rfc8659_4_3_issuewild_permits_wildcard(dns, job):
    caa = permitted(caa_job(dns, job, "c8", ['0 issue "other-ca.example"',
                                             '0 issuewild '
                                             '"acme.example.test"'],
                            wildcard=True))
    assert caa["property"] == "issuewild"


def test_rfc8659_4_3_issue_applies_to_wildcard_without_issuewild(dns, job):
    refused(caa_job(dns, job, "c9", ['0 issue "other-ca.example"'],
                    wildcard=True))


def test_rfc8659_4_1_unknown_critical_tag_refuses(dns, job):
    refused(caa_job(dns, job, "c10", ['0 issue "acme.example.test"',
                                      '128 futuretag "x"']),
            "unknown critical", "futuretag")


def test_rfc8659_4_1_unknown_noncritical_tag_ignored(dns, job):
    permitted(caa_job(dns, job, "c11", ['0 issue "acme.example.test"',
                                        '0 futuretag "x"']))


def test_rfc8657_3_accounturi_match(dns, job, account):
    permitted(caa_job(dns, job, "c12", [
        '0 issue "acme.example.test; accounturi=%s%s"'
        % (ACCOUNT_PREFIX, account)]))


def test_rfc8657_3_accounturi_mismatch(dns, job):
    refused(caa_job(dns, job, "c13", [
        '0 issue "acme.example.test; accounturi=%sSomeoneElse"'
        % ACCOUNT_PREFIX]), "accounturi")


def test_rfc8657_4_validationmethods_match(dns, job):
    permitted(caa_job(dns, job, "c14", [
        '0 issue "acme.example.test; validationmethods=http-01,dns-01"']))


def test_rfc8657_4_validationmethods_mismatch(dns, job):
    refused(caa_job(dns, job, "c15", [
        '0 issue "acme.example.test; validationmethods=http-01"']),
        "validationmethods")


def test_rfc8659_3_tree_climbing_record_at_parent(dns, job):
    parent = "p%s.%s" % (secrets.token_hex(2), dns.base)
    dns.add(parent, "CAA", '0 issue "other-ca.example"')
    _, caa = refused(caa_job(dns, job, None, name="a.b." + parent), parent)
    assert caa["relevantName"] == parent
    asked = [lk["name"] for lk in caa["lookups"]]
    assert asked == ["a.b." + parent, "b." + parent, parent]


def test_rfc8659_3_cname_is_followed(dns, job):
    name = "c16." + dns.base
    target = "c16-target." + dns.base
    dns.add(target, "CAA", '0 issue "other-ca.example"')
    dns.add(name, "CNAME", target + ".")
    _, caa = refused(caa_job(dns, job, None, name=name))
    assert caa["lookups"][0]["cnames"] == [target]


def test_rfc8659_5_4_lookup_failure_is_dns_problem(dns, job):
    # the CAA query of the name follows a CNAME out of the stack's zone,
    # which Knot refuses: never read as "no records"
    name = "c17." + dns.base
    dns.add(name, "CNAME", "elsewhere.invalid.")
    status, prob, record = caa_job(dns, job, None, name=name)
    assert status == "invalid"
    assert prob["type"] == "dns", prob
    assert "CAA" in prob["detail"]
    assert record[-1]["caa"]["result"] == "lookup failed"
