"""The validator's Prometheus endpoint (metrics_listen) and its Redis
heartbeat, through the real daemon of conftest.py (issue 8)."""

import re
import socket
import subprocess
import time

import pytest

from conftest import VALIDATOR, free_port

# text format 0.0.4: name{label="value",...} value
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
BUCKETS = ["0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
           "30", "+Inf"]
HIST = "acme_validator_validation_duration_seconds"


def request(port, raw, timeout=10.0):
    """sends raw bytes, returns (status, headers dict, body) of the reply"""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    proto, status, _ = lines[0].split(" ", 2)
    assert proto == "HTTP/1.0"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    assert int(headers["content-length"]) == len(body)
    assert headers["connection"] == "close"
    return int(status), headers, body


def scrape(v):
    status, headers, body = request(
        v.metrics_port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(body.decode())


def parse(text):
    """{(name, frozenset of label pairs): float}, checking the format"""
    samples = {}
    typed = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP "), line
            continue
        m = SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        name, labels, value = m.groups()
        pairs = frozenset(LABEL.findall(labels or ""))
        key = (name, pairs)
        assert key not in samples, "duplicate sample %r" % line
        samples[key] = float(value)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, "no TYPE for %s" % name
    for name, kind in typed.items():
        if name.endswith("_total"):
            assert kind == "counter", name
    return samples


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def q(s):
    return '"%s"' % s


def test_metrics_count_valid_and_invalid_validations(validator, dns, job):
    before = scrape(validator)
    assert val(before, "acme_validator_up") == 1
    assert any(k[0] == "acme_validator_build_info" for k in before)

    # valid: dns-01 record published, then the CAA check of the base
    name = "m1." + dns.base
    ok = job(name, "dns-01", queue=False)
    dns.add("_acme-challenge." + name, "TXT", q(ok.txt))
    ok.queue()
    status, prob, _ = ok.result()
    assert status == "valid", prob

    # invalid with a "dns" problem: Knot refuses the CNAME's target
    name = "m2." + dns.base
    dns.add("_acme-challenge." + name, "CNAME", "elsewhere.invalid.")
    bad = job(name, "dns-01")
    status, prob, _ = bad.result()
    assert status == "invalid" and prob["type"] == "dns", prob

    after = scrape(validator)

    def moved(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    assert moved("acme_validator_validations_total", type="dns-01",
                 result="valid") == 1
    assert moved("acme_validator_validations_total", type="dns-01",
                 result="invalid", problem="dns") == 1
    assert moved("acme_validator_errors_total", kind="dns") == 1
    assert moved(HIST + "_count", type="dns-01") == 2
    assert moved(HIST + "_sum", type="dns-01") > 0

    # cumulative buckets, +Inf equal to the count, for every type
    for t in ("http-01", "dns-01", "tls-alpn-01"):
        counts = [val(after, HIST + "_bucket", type=t, le=le)
                  for le in BUCKETS]
        assert counts == sorted(counts), (t, counts)
        assert counts[-1] == val(after, HIST + "_count", type=t)
        assert ("acme_validator_validations_total",
                frozenset({("type", t), ("result", "valid")})) in after

    # a job just read: its lag is seconds at most, never negative
    lag = val(after, "acme_validator_queue_lag_seconds")
    assert 0 <= lag < 30

    for name in ("acme_validator_reclaimed_jobs_total",
                 "acme_validator_requeued_challenges_total",
                 "acme_validator_orders_recovered_total"):
        assert (name, frozenset()) in after
    for kind in ("dns", "http", "tls", "store", "redis", "internal",
                 "dnssec"):
        assert ("acme_validator_errors_total",
                frozenset({("kind", kind)})) in after


def test_heartbeat_keys_in_redis(validator):
    def redis(*args):
        r = subprocess.run(validator.redis_cli + list(args),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    for key in ("acme:validator:heartbeat",
                "acme:validator:heartbeat:t-validator"):
        value = redis("GET", key)
        assert value.isdigit(), (key, value)
        assert abs(int(value) - time.time()) < 15
        ttl = int(redis("TTL", key))
        assert 0 < ttl <= 30, (key, ttl)

    # the gauge of the last mark written
    hb = val(scrape(validator), "acme_validator_heartbeat_timestamp_seconds")
    assert abs(hb - time.time()) < 15


def test_heartbeat_comes_back_after_the_key_is_deleted(validator):
    key = "acme:validator:heartbeat"
    subprocess.run(validator.redis_cli + ["DEL", key], check=True,
                   capture_output=True, timeout=10)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        r = subprocess.run(validator.redis_cli + ["TTL", key],
                           capture_output=True, text=True, timeout=10)
        if 0 < int(r.stdout) <= 30:
            return
        time.sleep(0.2)
    raise AssertionError("heartbeat not written again within 10 s")


@pytest.mark.parametrize("raw, status", [
    (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
    (b"HEAD /metrics HTTP/1.0\r\n\r\n", 405),
    (b"GET /other HTTP/1.1\r\n\r\n", 404),
    (b"GET /metrics/x HTTP/1.1\r\n\r\n", 404),
    (b"GET / HTTP/1.0\r\n\r\n", 404),
    (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n", 400),
    (b"GET /metrics\r\n\r\n", 400),
    (b"\r\n\r\n", 400),
    (b"GET metrics HTTP/1.1\r\n\r\n", 400),
])
def test_bad_requests_are_refused(validator, raw, status):
    got, headers, _ = request(validator.metrics_port, raw)
    assert got == status
    if status == 405:
        assert headers["allow"] == "GET"
    assert validator.proc.poll() is None
    scrape(validator)


def test_query_string_is_ignored(validator):
    status, _, body = request(validator.metrics_port,
                              b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    assert status == 200 and b"acme_validator_up 1" in body


def test_silent_client_is_dropped_and_others_served(validator):
    with socket.create_connection(("127.0.0.1", validator.metrics_port),
                                  timeout=10) as s:
        s.sendall(b"GET /metr")
        t0 = time.monotonic()
        assert s.recv(100) == b""          # closed without a reply
        assert 1 <= time.monotonic() - t0 < 6
    scrape(validator)
    assert validator.proc.poll() is None


@pytest.mark.parametrize("value, ok", [
    ("127.0.0.1:9120", True),
    ("[::1]:9120", True),
    ("off", True),
    ("::1:9120", False),
    ("127.0.0.1", False),
    ("localhost:9120", False),
    ("127.0.0.1:0", False),
    ("127.0.0.1:65536", False),
    ("[::1]", False),
])
def test_metrics_listen_syntax(tmp_path, value, ok):
    conf = tmp_path / "v.conf"
    conf.write_text("database = dbname=x\nresolver = 127.0.0.1\n"
                    "metrics_listen = %s\n" % value)
    r = subprocess.run([str(VALIDATOR), "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=10)
    assert (r.returncode == 0) == ok, r.stderr
    if not ok:
        assert "metrics_listen" in r.stderr


def test_metrics_port_in_use_stops_start_up(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        conf = tmp_path / "v.conf"
        conf.write_text("database = dbname=x\nresolver = 127.0.0.1\n"
                        "redis = 127.0.0.1:%d\n" % free_port()
                        + "metrics_listen = 127.0.0.1:%d\n" % port)
        r = subprocess.run([str(VALIDATOR), "-c", str(conf)],
                           capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "bind()" in r.stderr


def test_redis_down_counts_errors_and_keeps_serving(tmp_path):
    """no stack needed: Redis is a closed port, PostgreSQL never reached"""
    port = free_port()
    conf = tmp_path / "v.conf"
    conf.write_text("database = dbname=x\nresolver = 127.0.0.1\n"
                    "redis = 127.0.0.1:%d\n" % free_port()
                    + "workers = 1\ntimeout = 1\n"
                    + "metrics_listen = 127.0.0.1:%d\n" % port)
    proc = subprocess.Popen([str(VALIDATOR), "-c", str(conf)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        v = type("V", (), {"metrics_port": port})
        end = time.monotonic() + 10
        samples = {}
        while time.monotonic() < end:
            try:
                samples = scrape(v)
            except OSError:
                samples = {}
            if val(samples, "acme_validator_errors_total", kind="redis") >= 2:
                break
            time.sleep(0.2)
        assert val(samples, "acme_validator_errors_total", kind="redis") >= 2
        assert val(samples,
                   "acme_validator_heartbeat_timestamp_seconds") == 0
        assert proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
