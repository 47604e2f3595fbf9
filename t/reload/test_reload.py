"""nginx -s reload with new policy (issue 5, "Reload"), against a running
stack (scripts/stack.sh up; $ACME_STACK_ENV, default REPO/.stack/env).

The tests rewrite the stack's own nginx.conf (NGINX_CONF) and reload the
running master: they add two CAs of their own, /reload/ (the load loop's)
and /rl/ (rate limits), made from the stack's /acme/ location, so that the
stack's other CAs keep their policy and the accounts, orders and buckets
of these tests stay apart. The original file is put back and nginx
reloaded at the end, whatever happens (and at the start, from the backup
NGINX_CONF.reload-test-orig, when an earlier run was killed).

  test_reload_under_load            4 threads issue certificates end to end
      (raw JWS client, http-01) while the policy changes and nginx reloads
      three times: no failed request that the policy did not cause, no
      lost order, each certificate carries the lifetime of the config it
      was finalized under, orders made before a reload finish after it.
  test_invalid_config_*             a bad config fails nginx -t naming the
      directive; a reload with it (nginx -s reload, and a plain SIGHUP to
      the master as systemd's ExecReload may send) keeps the running
      config serving.
  test_rate_limit_change_*          a reload that changes a limit applies
      at once and keeps the buckets.

No [emerg] watcher here (unlike t/protocol): the invalid-config tests make
nginx log [emerg] on purpose; each test checks the lines it expects.

Run: /usr/bin/python3 -m pytest -q t/reload
"""

import collections
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import josepy as jose
import pytest
import requests
from cryptography import x509

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "t" / "protocol"))

from acmehelp import (Http01Server, Raw, assert_problem, b64,  # noqa: E402
                      csr_der)

ENV_FILE = os.environ.get("ACME_STACK_ENV", str(REPO / ".stack" / "env"))
ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)='([^']*)'\s*$")
NGINX_BIN = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")

DAY = 86400
SETTLE_SECONDS = 30          # old workers must be gone within this
LOAD_THREADS = 4
LOAD_MIN_PHASE = 4.0         # seconds of load in each configuration
LOAD_MIN_CERTS = 2           # certificates at least, in each configuration
LOAD_DEADLINE = 120          # the whole load test, at most
DENIED = "denied.reload.example.test"


def read_stack_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = ENV_LINE.match(line)
            if m:
                env[m.group(1)] = m.group(2)
    return env


# --- the stack's nginx ----------------------------------------------------

class Nginx:
    """The stack's running nginx: its config file, reload, workers."""

    def __init__(self, env):
        self.env = env
        self.prefix = env["NGINX_PREFIX"]
        self.conf = env["NGINX_CONF"]
        self.error_log = env["NGINX_ERROR_LOG"]
        self.backup = self.conf + ".reload-test-orig"
        self.penv = dict(os.environ)
        if env.get("SOFTHSM2_CONF"):
            self.penv["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
        self.original = None

    def _cmd(self, *args, conf=None):
        return [NGINX_BIN, "-p", self.prefix, "-c", conf or self.conf,
                "-e", self.error_log] + list(args)

    def run(self, *args, conf=None):
        p = subprocess.run(self._cmd(*args, conf=conf), env=self.penv,
                           capture_output=True, text=True, timeout=60,
                           check=False)
        return p.returncode, p.stdout + p.stderr

    def write(self, text):
        """Replaces nginx.conf atomically (never half a file)."""
        tmp = self.conf + ".reload-test-tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        shutil.copymode(self.conf, tmp)
        os.replace(tmp, self.conf)

    def master(self):
        with open(os.path.join(self.prefix, "logs", "nginx.pid"),
                  encoding="ascii") as f:
            return int(f.read().split()[0])

    def workers(self):
        """pids of the master's children (workers, old and new)."""
        m = self.master()
        out = set()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d, encoding="ascii",
                          errors="replace") as f:
                    stat = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold blanks
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[1]) == m:
                out.add(int(d))
        return out

    def log_size(self):
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0

    def log_since(self, offset):
        with open(self.error_log, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def reload(self):
        """nginx -s reload, then waits until every worker that ran before
        has exited and new ones run. Returns (t_signal, t_settled)."""
        before = self.workers()
        t_signal = time.time()
        rc, out = self.run("-s", "reload")
        assert rc == 0, "nginx -s reload failed:\n" + out
        deadline = time.time() + SETTLE_SECONDS
        while time.time() < deadline:
            now = self.workers()
            if now and not now & before:
                return t_signal, time.time()
            time.sleep(0.05)
        raise AssertionError("old workers %s still running %d s after the "
                             "reload" % (sorted(self.workers() & before),
                                         SETTLE_SECONDS))

    def restore(self):
        if self.original is not None:
            self.write(self.original)
            self.reload()
            if os.path.exists(self.backup):
                os.unlink(self.backup)


def acme_block(conf):
    """The stack's first "location /acme/ { ... }" block (no nested
    braces), as a list of its inner directive lines."""
    m = re.search(r"\n([ \t]*)location /acme/ \{\n(.*?)\n\1\}\n", conf,
                  re.S)
    assert m, "no location /acme/ in the stack's nginx.conf"
    return m, m.group(1), m.group(2).split("\n")


ACCESS_LOG = "reload-test-access.log"
REQ_ID = "X-Reload-Test-Id"


def variant(original, reload_lines=(), rl_lines=(), drop=()):
    """The original config with two more CAs right after the first /acme/
    location: /reload/ and /rl/, each the /acme/ settings without its
    lifetime and identifier lines (and without any directive in drop),
    plus the given lines. Both log every request's X-Reload-Test-Id to
    logs/reload-test-access.log, as does the whole http block (the
    probe's requests to /acme/ and /health)."""
    original = re.sub(
        r"\nhttp \{\n",
        "\nhttp {\n    log_format reload_test '$http_x_reload_test_id "
        "$request_method $status';\n    access_log logs/%s reload_test;\n"
        % ACCESS_LOG, original, count=1)
    m, indent, lines = acme_block(original)
    inner = indent + "    "
    keep = [l for l in lines
            if not re.match(r"\s*acme_server_(certificate_lifetime|"
                            r"identifiers)\s", l)
            and not any(re.match(r"\s*%s\s" % d, l) for d in drop)]
    keep.append(inner + "access_log logs/%s reload_test;" % ACCESS_LOG)

    def block(path, extra):
        return ("\n%slocation %s {\n%s\n%s\n%s}\n" % (
            indent, path, "\n".join(keep),
            "\n".join(inner + x for x in extra), indent))

    pos = m.end()
    return (original[:pos] + block("/reload/", reload_lines)
            + block("/rl/", rl_lines) + original[pos:])


# --- http-01 --------------------------------------------------------------

# --- fixtures -------------------------------------------------------------

@pytest.fixture(scope="module")
def stack_env():
    if not os.path.isfile(ENV_FILE):
        pytest.exit("no stack env file %s: start a stack (make up) or set "
                    "ACME_STACK_ENV" % ENV_FILE, returncode=2)
    env = read_stack_env(ENV_FILE)
    for k in ("NGINX_PREFIX", "NGINX_CONF", "NGINX_ERROR_LOG",
              "ACME_HTTPS_BASE", "ACME_HTTP_BASE", "ACME_TLS_CA_BUNDLE",
              "HTTP01PORT", "ACME_DB_CONNINFO"):
        if k not in env:
            pytest.exit("%s: %s missing" % (ENV_FILE, k), returncode=2)
    return env


@pytest.fixture(scope="module")
def nginx(stack_env):
    n = Nginx(stack_env)
    if os.path.exists(n.backup):
        # an earlier run was killed before it put the file back
        with open(n.backup, encoding="utf-8") as f:
            n.original = f.read()
        n.restore()
    with open(n.conf, encoding="utf-8") as f:
        n.original = f.read()
    with open(n.backup, "w", encoding="utf-8") as f:
        f.write(n.original)
    try:
        yield n
    finally:
        n.restore()


@pytest.fixture(scope="module")
def http01(stack_env):
    with Http01Server(int(stack_env["HTTP01PORT"])) as srv:
        yield srv.responses


def new_session(env):
    s = requests.Session()
    s.verify = env["ACME_TLS_CA_BUNDLE"]
    s.trust_env = False
    s.headers["User-Agent"] = "nginx-acme-server-reload-tests"
    return s


def raw_for(env, ca):
    return Raw(new_session(env), env["ACME_HTTPS_BASE"] + ca + "directory")


def psql(env, sql):
    exe = os.path.join(PGBIN, "psql")
    if not os.access(exe, os.X_OK):
        exe = shutil.which("psql")
    p = subprocess.run([exe, "-X", "-q", "-A", "-t", "-F", "|", "-d",
                        env["ACME_DB_CONNINFO"], "-c", sql],
                       capture_output=True, text=True, timeout=60,
                       check=True)
    return [l.split("|") for l in p.stdout.splitlines() if l]


# --- one issuance, step by step -------------------------------------------

class Failure(Exception):
    pass


class Dropped:
    """Connection errors that the server can be shown to have caused
    without reading the request: nginx closes a kept-alive connection that
    is idle when its worker leaves at a reload, and a request the client
    sent on it in that instant is lost unread (RFC 9112 9.3.1). Every
    request carries a unique X-Reload-Test-Id that the test's log_format
    writes to logs/reload-test-access.log; a failed request whose id is not
    in that log was never read, and is sent again (once). One whose id is
    there was processed and its answer lost: a real failure. A worker
    that exits with requests in flight logs no access line for them
    either: the test fails first on its "[alert] open socket ... left in
    connection" lines in error.log."""

    def __init__(self, env):
        self.path = os.path.join(env["NGINX_PREFIX"], "logs", ACCESS_LOG)
        self.events = []            # (time, who, what, error)
        self.lock = threading.Lock()
        self.seq = 0

    def new_id(self, who):
        with self.lock:
            self.seq += 1
            return "%s-%d-%d" % (who, os.getpid(), self.seq)

    def was_read(self, req_id, method):
        time.sleep(0.3)             # nginx logs as it finalizes
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                return any(l.startswith(req_id + " " + method + " ")
                           for l in f)
        except OSError:
            return False

    def record(self, t, who, what, err):
        with self.lock:
            self.events.append((t, who, what, err))


class Flow:
    """An account on one CA and the steps of an issuance. Every request
    goes through call(): an answer other than the expected one, a 5xx or
    a connection error is recorded in self.errors."""

    def __init__(self, env, ca, http01, errors, name="flow", dropped=None):
        self.raw = raw_for(env, ca)
        self.dropped = dropped or Dropped(env)
        self.http01 = http01
        self.errors = errors
        self.name = name
        self.key, self.kid = self.call(
            "newAccount", lambda: self.raw.new_account(), expect=None)
        self.thumb = jose.b64encode(
            self.key.public_key().thumbprint()).decode()

    def close(self):
        self.raw.s.close()

    def call(self, what, fn, expect=(200,), method="POST"):
        for attempt in (1, 2):
            t = time.time()
            req_id = self.dropped.new_id(self.name)
            self.raw.s.headers[REQ_ID] = req_id
            try:
                r = fn()
                break
            except (requests.RequestException, OSError) as e:
                err = "%s: %s" % (type(e).__name__, e)
                if attempt == 1 and not self.dropped.was_read(req_id,
                                                              method):
                    self.dropped.record(t, self.name, what, err)
                    continue
                self.errors.append((t, self.name, what, "exception", err))
                raise Failure(what) from e
            except AssertionError as e:       # Raw's own checks
                self.errors.append((t, self.name, what, "assert", str(e)))
                raise Failure(what) from e
        if expect is not None and r.status_code not in expect:
            self.errors.append((t, self.name, what, r.status_code,
                                r.text[:300]))
            raise Failure(what)
        return r

    def post(self, what, url, payload, expect=(200,)):
        return self.call(what, lambda: self.raw.post(
            url, payload, self.key, kid=self.kid), expect)

    def order(self, names):
        r = self.call("newOrder", lambda: self.raw.new_order(
            self.key, self.kid, names), expect=(201,))
        return {"url": r.headers["Location"], "obj": r.json(),
                "names": names, "created": time.time()}

    def answer(self, o):
        """Answers every authorization's http-01 challenge."""
        for a_url in o["obj"]["authorizations"]:
            a = self.post("authz", a_url, b"").json()
            if a["status"] == "valid":
                continue
            ch = next(c for c in a["challenges"] if c["type"] == "http-01")
            self.http01[ch["token"]] = ch["token"] + "." + self.thumb
            self.post("challenge", ch["url"], {})

    def wait(self, o, until, seconds=30):
        deadline = time.time() + seconds
        while True:
            obj = self.post("order", o["url"], b"").json()
            if obj["status"] not in until or time.time() > deadline:
                return obj
            time.sleep(0.1)

    def finalize(self, o):
        """finalize and download; returns (t_sent, t_done, certificate)."""
        der, _ = csr_der(o["names"])
        t_sent = time.time()
        r = self.post("finalize", o["obj"]["finalize"], {"csr": b64(der)})
        t_done = time.time()
        obj = r.json()
        if obj["status"] == "processing":
            obj = self.wait(o, ("processing",))
        if obj["status"] != "valid":
            self.errors.append((t_sent, self.name, "finalize", "status",
                                str(obj)))
            raise Failure("finalize")
        pem = self.post("certificate", obj["certificate"], b"").text
        cert = x509.load_pem_x509_certificate(pem.encode())
        return t_sent, t_done, cert

    def issue(self, names):
        o = self.order(names)
        self.answer(o)
        obj = self.wait(o, ("pending",))
        if obj["status"] != "ready":
            self.errors.append((time.time(), self.name, "validation",
                                "status", str(obj)))
            raise Failure("validation")
        return o, self.finalize(o)


def lifetime(cert):
    """notAfter - notBefore in seconds: the configured lifetime plus the
    minute by which notBefore is backdated."""
    return (cert.not_valid_after - cert.not_valid_before).total_seconds()


def lifetime_is(cert, seconds):
    return seconds <= lifetime(cert) <= seconds + 120


def bad_log_lines(text):
    return [l for l in text.splitlines()
            if re.search(r"\[(alert|emerg|crit)\]", l)
            or "exited on signal" in l]


# --- (a) reload under load ------------------------------------------------

class Load:
    """LOAD_THREADS threads issuing one-name certificates on /reload/ until
    stopped, each with its own account and connection."""

    def __init__(self, env, http01, dropped):
        self.env = env
        self.http01 = http01
        self.dropped = dropped
        self.errors = []
        self.issued = []        # (t_order, t_sent, t_done, lifetime, url)
        self.orders = 0
        self.accounts = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         name="load%d" % i, daemon=True)
                        for i in range(LOAD_THREADS)]

    def run(self, i):
        deadline = time.time() + LOAD_DEADLINE
        try:
            f = Flow(self.env, "/reload/", self.http01, self.errors,
                     name="load%d" % i, dropped=self.dropped)
        except Failure:
            return
        with self.lock:
            self.accounts.append(f.kid.rsplit("/", 1)[1])
        n = 0
        try:
            while not self.stop.is_set() and time.time() < deadline:
                n += 1
                name = "l%d-%d-%d.reload.example.test" % (
                    i, n, int(time.time() * 1000) % 100000000)
                try:
                    o = f.order([name])
                    with self.lock:
                        self.orders += 1
                    f.answer(o)
                    obj = f.wait(o, ("pending",))
                    if obj["status"] != "ready":
                        f.errors.append((time.time(), f.name, "validation",
                                         "status", str(obj)))
                        continue
                    t_sent, t_done, cert = f.finalize(o)
                except Failure:
                    continue
                with self.lock:
                    self.issued.append((o["created"], t_sent, t_done,
                                        lifetime(cert), o["url"]))
        finally:
            f.close()

    def certs_between(self, t0, t1=None):
        with self.lock:
            return [c for c in self.issued
                    if c[1] >= t0 and (t1 is None or c[2] <= t1)]


class Probe(threading.Thread):
    """GETs the stack's own directory (HTTPS) and /health (plain HTTP)
    every 50 ms: requests that no policy touches."""

    def __init__(self, env, errors, dropped):
        super().__init__(name="probe", daemon=True)
        self.env = env
        self.errors = errors
        self.dropped = dropped
        self.stop = threading.Event()
        self.count = 0

    def run(self):
        s = new_session(self.env)
        urls = [self.env["ACME_HTTPS_BASE"] + "/acme/directory",
                self.env["ACME_HTTPS_BASE"] + "/reload/directory",
                self.env["ACME_HTTP_BASE"] + "/health"]
        deadline = time.time() + LOAD_DEADLINE
        try:
            while not self.stop.is_set() and time.time() < deadline:
                for u in urls:
                    self.get(s, u)
                    self.count += 1
                time.sleep(0.05)
        finally:
            s.close()

    def get(self, s, u):
        for attempt in (1, 2):
            t = time.time()
            req_id = self.dropped.new_id("probe")
            try:
                r = s.get(u, timeout=10, headers={REQ_ID: req_id})
            except requests.RequestException as e:
                err = "%s: %s" % (type(e).__name__, e)
                if attempt == 1 and not self.dropped.was_read(req_id,
                                                              "GET"):
                    self.dropped.record(t, "probe", u, err)
                    continue
                self.errors.append((t, "probe", u, "exception", err))
                return
            if r.status_code != 200:
                self.errors.append((t, "probe", u, r.status_code,
                                    r.text[:200]))
            return


def test_reload_under_load(stack_env, nginx, http01):
    # lifetimes of the four configurations: before the first policy
    # reload, then after each of the three
    lifetimes = [30 * DAY, 20 * DAY, 10 * DAY, 5 * DAY]
    confs = [
        variant(nginx.original, ["acme_server_certificate_lifetime 30d;"]),
        variant(nginx.original, ["acme_server_certificate_lifetime 20d;"]),
        variant(nginx.original, ["acme_server_certificate_lifetime 10d;",
                                 "acme_server_deny_names %s;" % DENIED]),
        variant(nginx.original, [
            "acme_server_certificate_lifetime 5d;",
            "acme_server_deny_names %s;" % DENIED,
            "acme_server_rate_limit new_orders_per_account 6000r/m "
            "burst=1000;",
            "acme_server_rate_limit pending_authorizations_per_account "
            "1000;"]),
    ]
    for c in confs:
        nginx.write(c)
        rc, out = nginx.run("-t")
        assert rc == 0, out
    nginx.write(confs[0])
    nginx.reload()                              # /reload/ exists from here
    log0 = nginx.log_size()

    errors = []
    dropped = Dropped(stack_env)
    load = Load(stack_env, http01, dropped)
    probe = Probe(stack_env, errors, dropped)
    side = Flow(stack_env, "/reload/", http01, errors, name="side",
                dropped=dropped)
    side_accounts = [side.kid.rsplit("/", 1)[1]]
    windows = []                 # (t_signal, t_settled) of each reload
    carried = []                 # (reload index, kind, order)
    side_issued = []             # (expected lifetime, cert, what)

    def wait_phase(t0):
        end = time.time() + 30
        while time.time() < end:
            if (time.time() - t0 >= LOAD_MIN_PHASE
                    and len(load.certs_between(t0)) >= LOAD_MIN_CERTS):
                return
            time.sleep(0.1)

    try:
        for t in load.threads:
            t.start()
        probe.start()
        t_phase = time.time()
        for i in (1, 2, 3):
            wait_phase(t_phase)
            if i == 2:
                # DENIED may be issued before reload 2 adds it to the
                # deny list
                o, (_, _, cert) = side.issue([DENIED])
                side_issued.append((lifetimes[1], cert, "denied-before"))
            # orders made under the old config, finished under the new:
            # one still pending, one already ready
            p = side.order(["carry-p%d-%d.reload.example.test"
                            % (i, int(time.time()))])
            r = side.order(["carry-r%d-%d.reload.example.test"
                            % (i, int(time.time()))])
            side.answer(r)
            assert side.wait(r, ("pending",))["status"] == "ready"
            carried.append((i, "pending", p))
            carried.append((i, "ready", r))
            nginx.write(confs[i])
            windows.append(nginx.reload())
            t_phase = windows[-1][1]
            for _, kind, o in carried[-2:]:
                if kind == "pending":
                    side.answer(o)
                    obj = side.wait(o, ("pending",))
                    assert obj["status"] == "ready", obj
                _, _, cert = side.finalize(o)
                side_issued.append((lifetimes[i], cert, "carried-%s-%d"
                                    % (kind, i)))
            if i >= 2:
                r = side.raw.new_order(side.key, side.kid, [DENIED])
                assert_problem(r, 400, "rejectedIdentifier")
                r = side.raw.new_order(side.key, side.kid, [
                    "ok%d.reload.example.test" % i, DENIED])
                assert_problem(r, 400, "rejectedIdentifier")
        wait_phase(t_phase)
    finally:
        load.stop.set()
        probe.stop.set()
        for t in load.threads + [probe]:
            t.join(60)
        side.close()

    assert not any(t.is_alive() for t in load.threads), "load threads hang"
    for d in dropped.events:
        print("dropped unread, sent again: %r" % (d,))
    # first: no worker left with requests in flight ("open socket #N left
    # in connection", "aborting": the response is lost, and the access
    # log has no line for it, so Dropped cannot tell it from an unread
    # request)
    bad_lines = bad_log_lines(nginx.log_since(log0))
    assert not bad_lines, "nginx error.log:\n" + "\n".join(bad_lines[:20])
    all_errors = sorted(errors + load.errors)
    assert not all_errors, "%d failed requests:\n%s" % (
        len(all_errors), "\n".join(map(repr, all_errors[:30])))
    assert probe.count > 50
    # connections closed unread: only while a reload switched workers
    outside = [d for d in dropped.events
               if not any(s - 1 <= d[0] <= e + 1 for s, e in windows)]
    assert not outside, "connections dropped outside a reload: %r" % outside

    # every certificate: the lifetime of the config it was finalized
    # under; one finalized while a reload was switching workers may have
    # either the old or the new one
    bad, exact = [], collections.Counter()
    for t_order, t_sent, t_done, life, url in load.issued:
        phase = sum(1 for s, _ in windows if s <= t_sent)
        allowed = {lifetimes[phase]}
        switching = [j for j, (s, e) in enumerate(windows)
                     if t_sent < e and t_done >= s]
        for j in switching:
            allowed |= {lifetimes[j], lifetimes[j + 1]}
        if phase > 0 and t_sent < windows[phase - 1][1]:
            allowed.add(lifetimes[phase - 1])
        if not any(a <= life <= a + 120 for a in allowed):
            bad.append((url, life, sorted(allowed)))
        if len(allowed) == 1:
            exact[phase] += 1
    assert not bad, "certificates with the wrong lifetime: %r" % bad[:10]
    assert all(exact[p] >= 1 for p in range(4)), (
        "too few certificates after each reload: %r" % exact)
    for want, cert, what in side_issued:
        assert lifetime_is(cert, want), (what, lifetime(cert), want)
    crossed = [c for c in load.issued
               if any(c[0] < s and c[1] > e for s, e in windows)]

    # no lost order: every order of these accounts is valid
    ids = "','".join(load.accounts + side_accounts)
    rows = psql(stack_env, "SELECT o.public_id, o.status FROM orders o "
                "JOIN accounts a ON a.id = o.account_id WHERE "
                "a.ca = '/reload/' AND a.public_id IN ('%s')" % ids)
    not_valid = [r for r in rows if r[1] != "valid"]
    assert not not_valid, "orders left behind: %r" % not_valid[:20]
    n_side = 2 * 3 + 1
    assert len(rows) == load.orders + n_side, (len(rows), load.orders)

    print("\nreload under load: %d orders, %d certificates (%s exact per "
          "phase, %d orders created before a reload and finalized after "
          "it), %d probes, reload windows %s, %d requests lost unread on "
          "closed keep-alive connections and sent again: %r"
          % (load.orders, len(load.issued), dict(exact), len(crossed),
             probe.count, ["%.2fs" % (e - s) for s, e in windows],
             len(dropped.events), [d[1:] for d in dropped.events]))


# --- (b) an invalid config ------------------------------------------------

def _issue_ok(stack_env, http01, want_lifetime):
    errors = []
    f = Flow(stack_env, "/reload/", http01, errors, name="check")
    try:
        _, (_, _, cert) = f.issue(["still-%d.reload.example.test"
                                   % int(time.time() * 1000)])
    except Failure:
        pass
    finally:
        f.close()
    assert not errors, errors
    assert lifetime_is(cert, want_lifetime), lifetime(cert)


@pytest.mark.parametrize("case", ["bad-value", "missing-ca-key"])
def test_invalid_config_keeps_running_config(stack_env, nginx, http01,
                                             case):
    good = variant(nginx.original, ["acme_server_certificate_lifetime 3d;"])
    if case == "bad-value":
        bad = variant(nginx.original, [
            "acme_server_certificate_lifetime 2d;",
            "acme_server_identifiers dns carrier-pigeon;"])
        expect = ["carrier-pigeon"]
    else:
        bad = variant(nginx.original,
                      ["acme_server_certificate_lifetime 2d;"],
                      drop=["acme_server_ca_key"])
        expect = ["acme_server_ca_key", '"/reload/"']

    nginx.write(good)
    nginx.reload()
    workers = nginx.workers()

    nginx.write(bad)
    rc, out = nginx.run("-t")
    assert rc != 0 and "[emerg]" in out, out
    for e in expect:
        assert e in out, out
    assert "test failed" in out, out

    # nginx -s reload parses the file first and refuses to signal
    log0 = nginx.log_size()
    rc, out = nginx.run("-s", "reload")
    assert rc != 0 and "[emerg]" in out, out
    time.sleep(0.5)
    assert nginx.workers() == workers
    assert "reconfiguring" not in nginx.log_since(log0)

    # a bare SIGHUP (kill -HUP $MAINPID): the master tries, logs [emerg]
    # and keeps the workers it has
    log1 = nginx.log_size()
    os.kill(nginx.master(), signal.SIGHUP)
    text = ""
    deadline = time.time() + 10
    while time.time() < deadline:
        text = nginx.log_since(log1)
        if "[emerg]" in text:
            break
        time.sleep(0.1)
    master = "%d#" % nginx.master()
    emerg = [l for l in text.splitlines() if "[emerg]" in l]
    assert emerg and all(master in l for l in emerg), text
    assert all(e in emerg[0] for e in expect), emerg
    time.sleep(0.5)
    assert nginx.workers() == workers, "a failed reload changed the workers"

    # still serving the old config: issuance works, with 3d certificates
    _issue_ok(stack_env, http01, 3 * DAY)

    # and a good config reloads again afterwards
    nginx.write(variant(nginx.original,
                        ["acme_server_certificate_lifetime 4d;"]))
    nginx.reload()
    _issue_ok(stack_env, http01, 4 * DAY)


# every directive of the module with a bad argument: nginx -t fails and its
# message names the directive (and, where it is known, the location)
BAD_DIRECTIVES = [
    # (directive, the bad line, extra words the message must hold)
    ("acme_server_identifiers", "acme_server_identifiers dns carrier-pigeon;",
     ["carrier-pigeon"]),
    ("acme_server_challenges", "acme_server_challenges http-01 smoke-signal;",
     ["smoke-signal"]),
    ("acme_server_extended_key_usage",
     "acme_server_extended_key_usage serverAuth codeSigning;",
     ["codeSigning"]),
    ("acme_server_external_account_binding",
     "acme_server_external_account_binding sometimes;",
     ["sometimes"]),
    ("acme_server_require_contact", "acme_server_require_contact yes;",
     []),
    ("acme_server_rate_limit",
     "acme_server_rate_limit new_acounts_per_ip 6r/h;",
     ["new_acounts_per_ip"]),
    ("acme_server_rate_limit",
     "acme_server_rate_limit new_orders_per_account 6/h;", []),
    ("acme_server_rate_limit",
     "acme_server_rate_limit new_orders_per_account 6r/h burst=0;", []),
    ("acme_server_certificate_lifetime",
     "acme_server_certificate_lifetime 7x;", []),
    ("acme_server_certificate_lifetime",
     "acme_server_certificate_lifetime 30m;", ['"/reload/"']),
    ("acme_server_order_lifetime", "acme_server_order_lifetime soon;", []),
    ("acme_server_max_body", "acme_server_max_body lots;", []),
    ("acme_server_deny_names",
     "acme_server_deny_names bad..example.test;", ["bad..example.test"]),
    ("acme_server_allow_ips", "acme_server_allow_ips 10.0.0.1/8;",
     ["10.0.0.1/8"]),
    ("acme_server_crl_url", "acme_server_crl_url ldap://x.example/ca.crl;",
     []),
    ("acme_server_terms_of_service",
     "acme_server_terms_of_service tos.html;", []),
    ("acme_server_rate_limit_exempt",
     "acme_server_rate_limit_exempt everyone;", ["everyone"]),
]


def _bad(directive, line, words):
    return pytest.param(directive, line, words,
                        id="%s:%s" % (directive, line.split(None, 1)[1]))


@pytest.mark.parametrize("directive,line,words",
                         [_bad(*b) for b in BAD_DIRECTIVES])
def test_invalid_config_names_the_directive(nginx, tmp_path, directive,
                                            line, words):
    """nginx -t on a copy under another prefix: the running nginx is left
    alone."""
    _names(nginx, tmp_path, line, [directive] + words)


def _names(nginx, tmp_path, line, words):
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    mime = os.path.join(os.path.dirname(nginx.conf), "mime.types")
    if os.path.exists(mime):
        shutil.copy(mime, conf / "mime.types")
    (conf / "nginx.conf").write_text(variant(nginx.original, [line]))
    p = subprocess.run(
        [NGINX_BIN, "-p", str(tmp_path), "-c", "conf/nginx.conf", "-e",
         str(tmp_path / "logs" / "error.log"), "-t"], env=nginx.penv,
        capture_output=True, text=True, timeout=60, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    emerg = [l for l in out.splitlines() if "[emerg]" in l]
    assert emerg, out
    assert all(w in emerg[0] for w in words), (words, emerg[0])


# --- (c) a rate limit changed by a reload ---------------------------------

def test_rate_limit_change_applies_at_once_and_keeps_buckets(stack_env,
                                                             nginx):
    def conf(burst):
        return variant(nginx.original, [], [
            "acme_server_rate_limit new_orders_per_account 3r/m burst=%d;"
            % burst])

    errors = []
    nginx.write(conf(3))
    nginx.reload()
    a = Flow(stack_env, "/rl/", None, errors, name="a")
    b = Flow(stack_env, "/rl/", None, errors, name="b")
    try:
        for i in range(2):
            a.order(["a%d.rl.example.test" % i])           # 2 of 3

        # burst 3 -> 2: a's bucket (2 spent, 20 s apart) is full now;
        # had the reload reset it, a third order would pass
        nginx.write(conf(2))
        nginx.reload()
        r = a.raw.new_order(a.key, a.kid, ["a2.rl.example.test"])
        p = assert_problem(r, 429, "rateLimited")
        assert "new_orders_per_account" in p["detail"], p
        assert 1 <= int(r.headers["Retry-After"]) <= 21, r.headers

        # the new burst for a fresh bucket: 2, not 3
        for i in range(2):
            b.order(["b%d.rl.example.test" % i])
        r = b.raw.new_order(b.key, b.kid, ["b2.rl.example.test"])
        assert_problem(r, 429, "rateLimited")

        # and loosened (burst 5), a's same bucket has room at once
        nginx.write(conf(5))
        nginx.reload()
        a.order(["a3.rl.example.test"])
    finally:
        a.close()
        b.close()
    assert not errors, errors
