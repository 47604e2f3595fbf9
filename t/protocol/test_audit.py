"""Audit trail (issue 8): every step of an issuance and a revocation is
an audit_events row written with the change, queried with
acme-server-admin audit, and logged by nginx as one JSON line."""

import json
import pathlib
import subprocess

from cryptography.hazmat.primitives import serialization

from acmehelp import Raw, b64, csr_der
from test_resources import _ready_order

REPO = pathlib.Path(__file__).resolve().parents[2]
ADMIN = str(REPO / "build" / "acme-server-admin")


def audit(stack_env, *args):
    out = subprocess.run([ADMIN, "--database", stack_env["ACME_DB_CONNINFO"],
                          "audit", "--json"] + list(args),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_issuance_and_revocation_are_audited(session, directory_url,
                                             http01_server, stack_env,
                                             nginx_error_log):
    raw = Raw(session, directory_url)
    key, kid, url, o = _ready_order(raw, http01_server,
                                    ["audit.example.test"])
    account = kid.rsplit("/", 1)[1]
    der, _ = csr_der(["audit.example.test"])
    r = raw.post(o["finalize"], {"csr": b64(der)}, key, kid=kid)
    assert r.status_code == 200, r.text
    pem = raw.post(r.json()["certificate"], b"", key, kid=kid).text
    from cryptography import x509
    leaf = x509.load_pem_x509_certificate(pem.encode())
    serial = "%032x" % leaf.serial_number
    r = raw.post(raw.dir["revokeCert"], {
        "certificate": b64(leaf.public_bytes(serialization.Encoding.DER)),
        "reason": 4}, key, kid=kid)
    assert r.status_code == 200, r.text

    events = [e["event"] for e in audit(stack_env, "--account", account)]
    assert events == ["account.created", "order.created", "challenge.valid",
                      "certificate.issued", "certificate.revoked"], events

    by_serial = audit(stack_env, "--serial", serial)
    assert [e["event"] for e in by_serial] == ["certificate.issued",
                                               "certificate.revoked"]
    issued = by_serial[0]
    assert issued["identifiers"] == [{"type": "dns",
                                      "value": "audit.example.test"}]
    assert issued["detail"]["key_type"] == "EC"
    assert by_serial[1]["detail"] == {"reason": 4, "by": account}

    by_name = audit(stack_env, "--identifier", "audit.example.test",
                    "--since", "1h")
    assert {e["event"] for e in by_name} >= {"order.created",
                                             "challenge.valid",
                                             "certificate.issued"}
    # the validation record is kept with the event, no secrets
    valid = next(e for e in by_name if e["event"] == "challenge.valid")
    assert valid["detail"]["type"] == "http-01"
    assert valid["detail"]["record"]

    # nginx logged the issuance as one JSON line
    lines = [l for l in open(nginx_error_log, encoding="utf-8",
                             errors="replace")
             if "audit {" in l and serial in l]
    assert lines, "no audit line for %s" % serial
    ev = json.loads(lines[-1].split("audit ", 1)[1].split(", client:")[0])
    assert ev["event"] in ("certificate.issued", "certificate.revoked")


def test_policy_load_is_audited(stack_env):
    """Each worker records the policy it put in force (issue 8: policy
    reload), with the configuration file's digest."""
    rows = [e for e in audit(stack_env, "--limit", "1000000")
            if e["event"] == "policy.loaded" and e["ca"] == "/acme/"]
    assert rows, "no policy.loaded event"
    d = rows[-1]["detail"]
    assert len(d["config_sha256"]) == 64 and d["pid"] > 0
