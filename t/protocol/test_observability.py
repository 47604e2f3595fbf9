"""Operations (issue 8): /health, /ready and Prometheus metrics of the
nginx module, aggregated across workers. The Redis outage test runs last
in this file and restarts Redis the way scripts/stack.sh starts it."""

import json
import os
import pathlib
import re
import subprocess
import time

import pytest

from acmehelp import Raw


@pytest.fixture(scope="module")
def ops(stack_env):
    return stack_env["ACME_HTTP_BASE"]


def metrics(session, ops):
    r = session.get(ops + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    out = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def test_health(session, ops):
    r = session.get(ops + "/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_ready(session, ops):
    r = session.get(ops + "/ready", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    for check in ("postgresql", "redis", "validator", "pkcs11"):
        assert body["checks"][check]["ok"] is True, body
        assert body["checks"][check]["ms"] >= 0


def test_metrics_count_issuance_and_problems(session, ops, new_client,
                                             http01_server):
    from test_flow import _issue
    before = metrics(session, ops)
    client = new_client()
    _issue(client, http01_server, ["metrics.example.test"])
    raw = Raw(session, client.directory.to_partial_json()["newNonce"]
              .rsplit("new-nonce", 1)[0] + "directory")
    raw.post(raw.dir["newAccount"], None, None, body="{}")  # malformed
    after = metrics(session, ops)

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)

    assert delta('acme_server_certificates_issued_total{key_type="ecdsa"}') \
        == 1
    assert delta("acme_server_orders_created_total") == 1
    assert delta('acme_server_requests_total{resource="finalize",'
                 'status="200"}') == 1
    assert delta('acme_server_problems_total{type="malformed"}') >= 1
    assert delta("acme_server_signing_duration_seconds_count") == 1
    assert delta('acme_server_request_duration_seconds_count'
                 '{resource="newOrder"}') == 1
    # histograms are cumulative and end at +Inf == count
    for name, value in after.items():
        m = re.match(r'acme_server_request_duration_seconds_count'
                     r'\{resource="(\w+)"\}', name)
        if m:
            assert after['acme_server_request_duration_seconds_bucket'
                         '{resource="%s",le="+Inf"}' % m.group(1)] == value


def test_metrics_only_for_get(session, ops):
    assert session.post(ops + "/metrics", data="x", timeout=10) \
        .status_code == 405


def test_certbot_run_is_counted_and_audited(session, ops, stack_env,
                                            tmp_path):
    """Issue 8, done when: after a certbot run both metrics endpoints
    count the issuance and the audit trail lists every step with the
    certificate's serial."""
    from cryptography import x509
    vurl = stack_env.get("VALIDATOR_METRICS_URL")
    if not vurl:
        pytest.fail("the stack's validator exposes no metrics")

    def vmetrics():
        r = session.get(vurl, timeout=10)
        assert r.status_code == 200
        out = {}
        for line in r.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    before, vbefore = metrics(session, ops), vmetrics()
    env = dict(os.environ, REQUESTS_CA_BUNDLE=stack_env["ACME_TLS_CA_BUNDLE"])
    out = subprocess.run(
        ["certbot", "certonly", "--non-interactive", "--agree-tos",
         "--register-unsafely-without-email",
         "--server", stack_env["ACME_DIRECTORY_URL"],
         "--config-dir", str(tmp_path / "c"), "--work-dir",
         str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l"),
         "--standalone", "--http-01-address", "127.0.0.1",
         "--http-01-port", stack_env["HTTP01PORT"],
         "--cert-name", "observe", "-d", "observe.example.test"],
        env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    after, vafter = metrics(session, ops), vmetrics()

    issued = sum(after.get(k, 0) - before.get(k, 0) for k in after
                 if k.startswith("acme_server_certificates_issued_total"))
    assert issued == 1
    valid = sum(vafter.get(k, 0) - vbefore.get(k, 0) for k in vafter
                if k.startswith("acme_validator_validations_total")
                and 'result="valid"' in k)
    assert valid == 1

    pem = (tmp_path / "c" / "live" / "observe" / "cert.pem").read_bytes()
    serial = "%032x" % x509.load_pem_x509_certificate(pem).serial_number
    admin = str(pathlib.Path(__file__).resolve().parents[2] / "build" /
                "acme-server-admin")
    rows = json.loads(subprocess.run(
        [admin, "--database", stack_env["ACME_DB_CONNINFO"], "audit",
         "--json", "--serial", serial], capture_output=True, text=True,
        check=True, timeout=60).stdout)
    account = rows[0]["account"]
    steps = [e["event"] for e in json.loads(subprocess.run(
        [admin, "--database", stack_env["ACME_DB_CONNINFO"], "audit",
         "--json", "--account", account], capture_output=True, text=True,
        check=True, timeout=60).stdout)]
    assert steps == ["account.created", "order.created", "challenge.valid",
                     "certificate.issued"], steps


def test_zz_ready_is_false_while_redis_is_down(session, ops, stack_env):
    port = stack_env["REDISPORT"]
    d = os.path.join(stack_env["ACME_STACK_DIR"], "redis")
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"],
                   capture_output=True, timeout=30)
    try:
        r = session.get(ops + "/ready", timeout=30)
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["redis"]["ok"] is False
    finally:
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", port,
             "--save", "", "--appendonly", "no", "--daemonize", "yes",
             "--pidfile", os.path.join(d, "redis.pid"),
             "--logfile", os.path.join(d, "redis.log"), "--dir", d,
             "--unixsocket", "", "--protected-mode", "yes"],
            check=True, timeout=30)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", port, "ping"],
                              capture_output=True, text=True,
                              timeout=10).stdout.strip() == "PONG":
                break
            time.sleep(0.1)
    # the first nonce spent after the restart starts Redis' new nonce epoch
    # (DESIGN.md): spend one now, so later tests' nonces are all newer
    raw = Raw(session, stack_env["ACME_DIRECTORY_URL"])
    raw.post(raw.dir["newAccount"], {"onlyReturnExisting": True},
             __import__("acmehelp").ec_key())
    time.sleep(1.1)
    # back: the validator beats again within its interval
    for _ in range(150):
        r = session.get(ops + "/ready", timeout=30)
        if r.status_code == 200:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
