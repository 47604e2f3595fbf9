"""Fixtures for the validator's black-box tests (STYLE.md 8.3).

Run: ACME_STACK_ENV=STACK/env /usr/bin/python3 -m pytest -q t/validator
(ACME_VALIDATOR_WRAPPER="valgrind --leak-check=full --error-exitcode=9"
runs the validator under valgrind; ACME_TEST_KEEP=1 keeps its log as
/tmp/t-validator.log).

They drive the real build/acme-validator against a running stack (its
PostgreSQL and its Knot DNS, RFC 2136 updates with the stack's TSIG key):
rows are inserted with psql (a challenge in "processing"), the job is added
to the stream with redis-cli, and the challenge row is polled for the
result, as nginx and the validator do it.

The tests start their own validator (caa_identities, account_uri_prefix
and tls_alpn01_port set for them) reading from their own redis-server, so
that the stack's validator, which reads the stack's Redis, never takes
their jobs, and the stack needs no change.  The stack's env file is
$ACME_STACK_ENV, default REPO/.stack/env (scripts/stack.sh up).

Fixtures:
  stack_env      dict of the env file
  validator      the running validator: .tls_port, .account_prefix,
                 .metrics_port (its metrics_listen on 127.0.0.1),
                 .redis_cli (argv prefix for its Redis), .proc
  dns            Zone: .add(name, type, rdata), .delete(name), .base (a
                 fresh subdomain of example.test for this session, with
                 CAA 0 issue "acme.example.test"); all removed at the end
  account        the public id of a test account
  job            factory: job(name, type, wildcard=False, ident_type="dns")
                 -> Job(.public_id, .token, .thumbprint, .keyauth, .txt,
                 .digest), inserted and queued; job.result() waits for it
  validator_dnssec, job_dnssec
                 the same for a second validator that validates DNSSEC
                 with the stack's trust anchors (dnssec_trust_anchor)
"""

import base64
import contextlib
import hashlib
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ENV_FILE = os.environ.get("ACME_STACK_ENV", str(REPO / ".stack" / "env"))
ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)='([^']*)'\s*$")
VALIDATOR = REPO / "build" / "acme-validator"
CA_IDENTITY = "acme.example.test"
ACCOUNT_PREFIX = "https://127.0.0.1:8443/acme/acct/"
RESULT_WAIT = 20.0


def read_stack_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ENV_LINE.match(line)
            if m:
                env[m.group(1)] = m.group(2)
    return env


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, secs=10.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture(scope="session")
def stack_env():
    if not os.path.isfile(ENV_FILE):
        pytest.exit("no stack env file %s: start a stack (make up) or set "
                    "ACME_STACK_ENV" % ENV_FILE, returncode=2)
    env = read_stack_env(ENV_FILE)
    for k in ("ACME_DB_CONNINFO", "DNSPORT", "NSUPDATE_KEY_FILE",
              "HTTP01PORT"):
        if k not in env:
            pytest.exit("%s: %s missing" % (ENV_FILE, k), returncode=2)
    if not VALIDATOR.is_file():
        pytest.exit("%s missing: make validator" % VALIDATOR, returncode=2)
    return env


def psql(env, sql):
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
         env["ACME_DB_CONNINFO"], "-c", sql],
        check=True, capture_output=True, text=True, timeout=20)
    return out.stdout


# --- DNS (Knot, RFC 2136 with TSIG) ---------------------------------------

class Zone:
    def __init__(self, env, zone="example.test"):
        self.env = env
        self.zone = zone
        self.names = set()
        self.base = "v%s.%s" % (secrets.token_hex(4), zone)

    def update(self, lines):
        script = "server 127.0.0.1 %s\nzone %s\n%s\nsend\n" % (
            self.env["DNSPORT"], self.zone, "\n".join(lines))
        r = subprocess.run(["nsupdate", "-k", self.env["NSUPDATE_KEY_FILE"]],
                           input=script, capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 0, "nsupdate: %s %s" % (r.stdout, r.stderr)

    def add(self, name, rtype, *rdata):
        self.names.add(name)
        self.update(["update add %s 60 %s %s" % (name, rtype, rd)
                     for rd in rdata])

    def delete(self, name):
        self.update(["update delete %s" % name])

    def cleanup(self):
        names = sorted(self.names)
        for i in range(0, len(names), 50):
            self.update(["update delete %s" % n for n in names[i:i + 50]])


@pytest.fixture(scope="session")
def dns(stack_env):
    z = Zone(stack_env)
    # the climb (RFC 8659 3) stops here: the stack's Knot refuses names
    # outside example.test, and nothing at its apex is touched
    z.add(z.base, "CAA", '0 issue "%s"' % CA_IDENTITY)
    yield z
    z.cleanup()


# --- our own Redis and validator -------------------------------------------

class Validator:
    pass



@contextlib.contextmanager
def running_validator(stack_env, d, extra="", resolvers=None, workers=4):
    """a validator with its own Redis under directory d; extra: more
    configuration lines; resolvers: "ip:port" list (default: the stack's
    Knot)"""
    v = Validator()
    v.redis_port = free_port()
    v.tls_port = free_port()
    v.metrics_port = free_port()
    v.account_prefix = ACCOUNT_PREFIX
    v.log = d / "validator.log"

    redis = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(v.redis_port),
         "--save", "", "--appendonly", "no", "--unixsocket", "",
         "--protected-mode", "yes", "--dir", str(d), "--logfile",
         str(d / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    v.redis_cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(v.redis_port)]

    def redis_up():
        r = subprocess.run(v.redis_cli + ["ping"], capture_output=True,
                           text=True)
        return r.stdout.strip() == "PONG"

    proc = None
    try:
        wait_for("redis-server", redis_up)
        conf = d / "validator.conf"
        conf.write_text(
            "database = %s\n" % stack_env["ACME_DB_CONNINFO"]
            + "redis = 127.0.0.1:%d\n" % v.redis_port
            + "".join("resolver = %s\n" % r for r in resolvers or
                      ["127.0.0.1:%s" % stack_env["DNSPORT"]])
            + "http01_port = %s\n" % stack_env["HTTP01PORT"]
            + "tls_alpn01_port = %d\n" % v.tls_port
            + "caa_identities = %s, ca2.example.test\n" % CA_IDENTITY
            + "account_uri_prefix = %s\n" % ACCOUNT_PREFIX
            + "allow_private_addresses = yes\n"
            + "workers = %d\n" % workers
            + "timeout = 2\n"
            + "log_level = debug\n"
            + "consumer = t-validator\n"
            # never re-queue the stack's own stale challenges
            + "reclaim_idle = 86400\n"
            + "metrics_listen = 127.0.0.1:%d\n" % v.metrics_port
            + extra)
        with open(v.log, "wb") as log:
            # e.g. ACME_VALIDATOR_WRAPPER="valgrind --error-exitcode=9"
            wrapper = os.environ.get("ACME_VALIDATOR_WRAPPER", "").split()
            proc = subprocess.Popen(wrapper + [str(VALIDATOR), "-c",
                                               str(conf)],
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log)
        time.sleep(3 if wrapper else 0.5)
        assert proc.poll() is None, v.log.read_text()
        v.proc = proc
        yield v
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        redis.terminate()
        redis.wait(10)
        if os.environ.get("ACME_TEST_KEEP"):
            shutil.copy(v.log, "/tmp/t-%s.log" % d.name)
    # a crash is a failure even when every check passed
    assert proc is None or proc.returncode == 0, \
        v.log.read_text()[-3000:]


@pytest.fixture(scope="session")
def validator(stack_env, tmp_path_factory):
    """the validator without DNSSEC validation (ldns only)"""
    with running_validator(stack_env,
                           tmp_path_factory.mktemp("validator")) as v:
        yield v


@pytest.fixture(scope="session")
def validator_dnssec(stack_env, tmp_path_factory):
    """a second validator, trusting the stack's anchors (dnssec.test's
    KSK and bogus.test's DS)"""
    if "DNSSEC_TRUST_ANCHOR" not in stack_env:
        pytest.exit("the stack has no DNSSEC_TRUST_ANCHOR: restart it",
                    returncode=2)
    with running_validator(stack_env,
                           tmp_path_factory.mktemp("validator-dnssec"),
                           "dnssec_trust_anchor = %s\n"
                           % stack_env["DNSSEC_TRUST_ANCHOR"]) as v:
        yield v


# --- rows and jobs ---------------------------------------------------------

@pytest.fixture(scope="session")
def account(stack_env):
    pub = b64u(secrets.token_bytes(16))
    psql(stack_env, "INSERT INTO accounts (public_id, ca, jwk_thumbprint, jwk)"
                    " VALUES ('%s', '/acme/', '%s', '{}')"
                    % (pub, b64u(secrets.token_bytes(32))))
    return pub


class Job:
    def __init__(self, env, v, public_id, token, thumbprint):
        self.env = env
        self.v = v
        self.public_id = public_id
        self.token = token
        self.thumbprint = thumbprint
        self.keyauth = token + "." + thumbprint
        self.digest = hashlib.sha256(self.keyauth.encode()).digest()
        self.txt = b64u(self.digest)

    def queue(self):
        r = subprocess.run(self.v.redis_cli + [
            "XADD", "acme:validations", "*", "challenge", self.public_id],
            capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and "-" in r.stdout, r.stdout + r.stderr

    def result(self):
        """(status, problem dict or None, validation record) when done."""
        end = time.monotonic() + RESULT_WAIT
        while time.monotonic() < end:
            out = psql(self.env, "SELECT status, coalesce(error, 'null'), "
                       "coalesce(validation_record, 'null') FROM challenges"
                       " WHERE public_id = '%s'" % self.public_id)
            status, error, record = out.rstrip("\n").split("|", 2)
            if status != "processing":
                prob = json.loads(error)
                if prob is not None:
                    prob["type"] = prob["type"].rsplit(":", 1)[-1]
                return status, prob, json.loads(record)
            time.sleep(0.1)
        raise AssertionError("challenge %s still processing after %ss"
                             % (self.public_id, RESULT_WAIT))


def job_factory(stack_env, validator, account):
    acct_thumb = psql(stack_env, "SELECT jwk_thumbprint FROM accounts WHERE "
                      "public_id = '%s'" % account).strip()

    def make(name, ctype, wildcard=False, ident_type="dns", queue=True):
        authz = b64u(secrets.token_bytes(16))
        chall = b64u(secrets.token_bytes(16))
        token = b64u(secrets.token_bytes(32))
        psql(stack_env,
             "WITH a AS (INSERT INTO authorizations (public_id, account_id,"
             " identifier_type, identifier_value, wildcard, expires) SELECT"
             " '%s', id, '%s', '%s', %s, now() + interval '1 hour' FROM"
             " accounts WHERE public_id = '%s' RETURNING id) INSERT INTO"
             " challenges (public_id, authorization_id, type, token, status)"
             " SELECT '%s', id, '%s', '%s', 'processing' FROM a"
             % (authz, ident_type, name, "true" if wildcard else "false",
                account, chall, ctype, token))
        j = Job(stack_env, validator, chall, token, acct_thumb)
        if queue:
            j.queue()
        return j

    return make


@pytest.fixture(scope="session")
def job(stack_env, validator, account):
    return job_factory(stack_env, validator, account)


@pytest.fixture(scope="session")
def job_dnssec(stack_env, validator_dnssec, account):
    return job_factory(stack_env, validator_dnssec, account)
