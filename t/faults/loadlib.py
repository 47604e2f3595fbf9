"""Load driver for the fault-injection tests (t/faults/faults.py).

A Client is one ACME client (own requests.Session, own account) built on
the same hand-made JWS as t/protocol/acmehelp.py. Every request it sends
is counted in a Stats object: requests sent, failures and why (HTTP status
and problem type, or the connection error), server errors that break the
rules (a 500, a 503 without Retry-After, a 5xx that is not a problem
document) as violations. Transient answers are retried the way a careful
ACME client does: badNonce with the nonce of the answer, 503 after
Retry-After (capped), connection errors after a short pause.

Load runs N threads, each doing complete flows (newOrder, http-01 through
Http01Server, finalize, certificate download) until stopped, then lets
the flows under way finish (drain). Each order's outcome is kept:
valid (with the certificate's serial), invalid (why), abandoned (gave up
waiting, last status seen).
"""

import collections
import itertools
import json
import os
import random
import secrets
import sys
import threading
import time

import josepy as jose
import requests
from acme import jws as acme_jws
from cryptography import x509

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "protocol"))
from acmehelp import JOSE, URN, b64, csr_der, ec_key  # noqa: E402

ENV_LINE_SPLIT = "="


def read_stack_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == "'" and v[-1] == "'":
                v = v[1:-1]
            env[k] = v
    return env


class GiveUp(Exception):
    """A request or a flow ran out of time."""


# --- statistics ------------------------------------------------------------

class Stats:
    """Thread-safe counters of one fault's load."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.requests = 0
        self.failures = collections.Counter()
        self.violations = []
        self.log = []             # (id, t0, t1, method, url, outcome)
        self.orders = {}          # order url -> dict
        self.challenges = set()   # challenge urls responded to
        self.accounts = set()     # account urls
        self.windows = {}         # name -> [t0, t1]: what was seen then
        self.secrets = []         # strings no response may contain
        self.server_errors = collections.Counter()
        self.server_error_example = {}

    def window(self, name, t0=None, t1=None):
        with self.lock:
            w = self.windows.setdefault(name, [None, None])
            if t0 is not None:
                w[0] = t0
            if t1 is not None:
                w[1] = t1

    def record(self, rid, t0, t1, method, url, outcome, ok):
        with self.lock:
            self.requests += 1
            self.log.append((rid, t0, t1, method, url, outcome))
            if not ok:
                self.failures[outcome] += 1

    def server_error(self, what, method, url, r):
        """An answer that breaks the rules (a 500, a 503 without
        Retry-After, ...), counted per kind of request."""
        key = "%s on %s %s" % (what, method, ID_SEGMENT.sub("/{id}", url))
        with self.lock:
            self.server_errors[key] += 1
            if key not in self.server_error_example:
                self.server_error_example[key] = "%s %s at %s: %.160s" % (
                    method, url, time.strftime("%H:%M:%S"), r.text)

    def all_violations(self):
        out = list(self.violations)
        for k, n in self.server_errors.most_common():
            out.append("%s: x%d (first: %s)" % (
                k, n, self.server_error_example[k]))
        return out

    def violation(self, what):
        with self.lock:
            if len(self.violations) < 1000:
                self.violations.append(what)

    def order(self, url, **kw):
        with self.lock:
            self.orders.setdefault(url, {}).update(kw)


ID_SEGMENT = __import__("re").compile(r"/[A-Za-z0-9_-]{20,}")

_rid = itertools.count(1)
_rid_prefix = "%08x" % random.getrandbits(32)


def next_rid():
    return "%s-%d" % (_rid_prefix, next(_rid))


# --- one client ------------------------------------------------------------

class Client:
    """A careful ACME client whose requests are all counted in stats."""

    def __init__(self, stats, env, directory_url=None, key=None,
                 deadline=None, retry=True):
        self.stats = stats
        self.env = env
        self.s = requests.Session()
        self.s.verify = env["ACME_TLS_CA_BUNDLE"]
        self.s.trust_env = False
        self.s.headers["User-Agent"] = "nginx-acme-server-faults"
        self.dir_url = directory_url or env["ACME_DIRECTORY_URL"]
        self.key = key or ec_key()
        self.kid = None
        self.nonce_ = None
        self.retry = retry
        self.deadline = deadline   # callable -> absolute time, or None
        self.dir = self._get_json(self.dir_url)

    def close(self):
        self.s.close()

    # -- transport --

    def _deadline(self):
        return self.deadline() if self.deadline else time.time() + 60

    def send(self, method, url, **kw):
        """One HTTP request, counted. Returns the response or raises
        requests.RequestException (counted as a failure)."""
        rid = next_rid()
        headers = kw.pop("headers", {})
        headers["X-Fault-Req"] = rid
        t0 = time.time()
        try:
            r = self.s.request(method, url, headers=headers,
                               timeout=(5, 30), **kw)
        except requests.RequestException as e:
            reason = "conn:" + _conn_reason(e)
            self.stats.record(rid, t0, time.time(), method, url, reason,
                              False)
            raise
        t1 = time.time()
        outcome, ok = _classify(r)
        self.stats.record(rid, t0, t1, method, url, outcome, ok)
        self._check_response(r, method, url)
        return r

    def _check_response(self, r, method, url):
        st = self.stats
        if r.status_code >= 500:
            ctype = r.headers.get("Content-Type", "").split(";")[0]
            if r.status_code == 503 and ctype == "application/problem+json" \
               and _ptype(r) == "serverInternal":
                if not r.headers.get("Retry-After"):
                    st.server_error("503 without Retry-After", method, url,
                                    r)
            else:
                st.server_error("%d %s" % (r.status_code,
                                           _ptype(r) or ctype), method, url,
                                r)
        if st.secrets and r.content:
            for s in st.secrets:
                if s and s.encode() in r.content:
                    st.violation("a secret in the response to %s %s" %
                                 (method, url))

    def _get_json(self, url):
        end = self._deadline()
        while True:
            try:
                r = self.send("GET", url)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                pass
            if time.time() > end:
                raise GiveUp("GET %s" % url)
            time.sleep(0.3)

    def nonce(self):
        if self.nonce_:
            n, self.nonce_ = self.nonce_, None
            return n
        end = self._deadline()
        while True:
            try:
                r = self.send("HEAD", self.dir["newNonce"])
                if r.status_code == 200 and r.headers.get("Replay-Nonce"):
                    return r.headers["Replay-Nonce"]
            except requests.RequestException:
                pass
            if time.time() > end:
                raise GiveUp("newNonce")
            time.sleep(0.3)

    def sign(self, url, payload, key=None, kid=None, nonce=None, use_jwk=False):
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        key = key or self.key
        if not use_jwk and kid is None:
            kid = self.kid
        if nonce is None:
            nonce = self.nonce()
        return acme_jws.JWS.sign(payload, key=key, alg=jose.ES256,
                                 nonce=jose.b64decode(nonce), url=url,
                                 kid=None if use_jwk else kid).json_dumps()

    def post(self, url, payload, key=None, kid=None, use_jwk=False,
             body=None, retry=None):
        """POST a JWS; retries badNonce, 503, 5xx and connection errors
        until the deadline. Returns the last response (a definite answer:
        2xx, 3xx or a 4xx other than badNonce)."""
        retry = self.retry if retry is None else retry
        end = self._deadline()
        while True:
            b = body if body is not None else self.sign(
                url, payload, key=key, kid=kid, use_jwk=use_jwk)
            try:
                r = self.send("POST", url, data=b,
                              headers={"Content-Type": JOSE})
            except requests.RequestException:
                self.nonce_ = None
                if not retry or time.time() > end:
                    raise
                time.sleep(0.3)
                continue
            self.nonce_ = r.headers.get("Replay-Nonce")
            if not retry or r.status_code < 400:
                return r
            pt = _ptype(r)
            if pt == "badNonce" and body is None:
                if time.time() > end:
                    raise GiveUp("badNonce until the deadline")
                continue
            if r.status_code >= 500:
                if time.time() > end:
                    raise GiveUp("%d until the deadline" % r.status_code)
                try:
                    ra = float(r.headers.get("Retry-After", "1"))
                except ValueError:
                    ra = 1.0
                time.sleep(min(max(ra, 0.2), 1.0))
                continue
            return r

    # -- ACME --

    def register(self, payload=None):
        p = {"termsOfServiceAgreed": True}
        if payload:
            p.update(payload)
        r = self.post(self.dir["newAccount"], p, use_jwk=True)
        if r.status_code not in (200, 201):
            raise GiveUp("newAccount: %d %s" % (r.status_code, r.text[:200]))
        self.kid = r.headers["Location"]
        self.stats.accounts.add(self.kid)
        return r

    def thumbprint(self):
        return jose.b64encode(self.key.public_key().thumbprint()).decode()

    def get(self, url):
        return self.post(url, b"")


def _conn_reason(e):
    """A short name for a connection error: refused, reset, closed
    without response, timeout, ..."""
    s = repr(e)
    for key, name in (("Connection refused", "refused"),
                      ("RemoteDisconnected", "closed-without-response"),
                      ("Connection reset", "reset"),
                      ("ConnectionResetError", "reset"),
                      ("BrokenPipe", "broken-pipe"),
                      ("Read timed out", "read-timeout"),
                      ("ConnectTimeout", "connect-timeout"),
                      ("SSLError", "tls-error"),
                      ("EOF occurred", "eof")):
        if key in s:
            return name
    return type(e).__name__


def _ptype(r):
    if r.headers.get("Content-Type", "").split(";")[0] != \
       "application/problem+json":
        return None
    try:
        t = r.json().get("type", "")
    except ValueError:
        return "not-json"
    return t[len(URN):] if t.startswith(URN) else t


def _classify(r):
    if r.status_code < 400:
        return str(r.status_code), True
    pt = _ptype(r)
    return "%d %s" % (r.status_code, pt or "-"), False


# --- a complete order ------------------------------------------------------

def run_flow(c, http01, names, stats, poll_wait=90.0, processing_wait=25.0):
    """newOrder .. certificate. Returns the outcome string."""
    r = c.post(c.dir["newOrder"], {
        "identifiers": [{"type": "dns", "value": n} for n in names]})
    if r.status_code != 201:
        return "newOrder %d %s" % (r.status_code, _ptype(r))
    url = r.headers["Location"]
    o = r.json()
    stats.order(url, status="pending", outcome=None, t_created=time.time(),
                account=c.kid, names=names)
    thumb = c.thumbprint()
    for az in o["authorizations"]:
        a = c.get(az)
        if a.status_code != 200:
            stats.order(url, outcome="abandoned", last="authz %d" %
                        a.status_code)
            return "authz %d" % a.status_code
        a = a.json()
        if a["status"] != "pending":
            continue
        ch = next(x for x in a["challenges"] if x["type"] == "http-01")
        http01.responses[ch["token"]] = ch["token"] + "." + thumb
        rr = c.post(ch["url"], {})
        stats.challenges.add(ch["url"])
        if rr.status_code != 200:
            stats.order(url, outcome="abandoned", last="challenge %d %s" %
                        (rr.status_code, _ptype(rr)))
            return "challenge %d" % rr.status_code
    end = time.time() + poll_wait
    o = _poll(c, url, ("pending",), end)
    if o is None:
        stats.order(url, outcome="abandoned", last="pending")
        return "abandoned pending"
    if o["status"] == "ready":
        der, _ = csr_der(names)
        f = c.post(o["finalize"], {"csr": b64(der)})
        if f.status_code == 200:
            o = f.json()
        elif f.status_code == 403 and _ptype(f) == "orderNotReady":
            # an earlier try that we did not hear back from got through
            pass
        else:
            stats.order(url, outcome="abandoned", last="finalize %d %s" %
                        (f.status_code, _ptype(f)))
            return "finalize %d %s" % (f.status_code, _ptype(f))
        o = _poll(c, url, ("ready", "processing"),
                  time.time() + processing_wait)
        if o is None:
            stats.order(url, outcome="abandoned", last="processing")
            return "abandoned processing"
    if o["status"] == "valid":
        cr = c.get(o["certificate"])
        if cr.status_code != 200:
            stats.order(url, outcome="abandoned", last="cert %d" %
                        cr.status_code)
            return "certificate %d" % cr.status_code
        leaf = x509.load_pem_x509_certificate(cr.content)
        stats.order(url, outcome="valid", status="valid",
                    serial=leaf.serial_number, cert_url=o["certificate"])
        return "valid"
    why = (o.get("error") or {}).get("type", "")
    if o["status"] == "invalid" and not why:
        why = _authz_error(c, o)
    why = why[len(URN):] if why.startswith(URN) else why
    stats.order(url, outcome="invalid", status=o["status"], why=why)
    return "invalid " + why


def _authz_error(c, o):
    for az in o["authorizations"]:
        try:
            a = c.get(az).json()
        except Exception:  # pylint: disable=broad-except
            continue
        for ch in a.get("challenges", []):
            if ch.get("error"):
                return ch["error"].get("type", "challenge error")
        if a.get("status") not in ("valid", "pending"):
            return "authz " + a.get("status", "?")
    return "?"


def _poll(c, url, waiting, end):
    while True:
        r = c.get(url)
        if r.status_code == 200:
            o = r.json()
            if o["status"] not in waiting:
                return o
        if time.time() > end:
            return None
        time.sleep(0.25)


# --- load ------------------------------------------------------------------

class Load:
    """workers threads doing flows until stop(); names are unique per
    fault (tag) so that flows never share an authorization."""

    def __init__(self, env, stats, http01, workers, tag,
                 drain_seconds=90.0):
        self.env = env
        self.stats = stats
        self.http01 = http01
        self.workers = workers
        self.tag = tag
        self.stop_ev = threading.Event()
        self.drain_end = None
        self.drain_seconds = drain_seconds
        self.threads = []
        self.outcomes = collections.Counter()
        self.lock = threading.Lock()
        self.seq = itertools.count(1)

    def _deadline(self):
        if self.drain_end is not None:
            return self.drain_end
        return time.time() + 600

    def start(self):
        for i in range(self.workers):
            t = threading.Thread(target=self._run, args=(i,), daemon=True,
                                 name="load-%d" % i)
            t.start()
            self.threads.append(t)

    def _run(self, i):
        c = None
        try:
            c = Client(self.stats, self.env, deadline=self._deadline)
            c.register()
            while not self.stop_ev.is_set():
                name = "%s-%d-%s.example.test" % (
                    self.tag, next(self.seq), secrets.token_hex(3))
                try:
                    out = run_flow(c, self.http01, [name], self.stats,
                                   poll_wait=100.0)
                except GiveUp as e:
                    out = "gave up: %s" % e
                except requests.RequestException as e:
                    out = "gave up: conn " + _conn_reason(e)
                with self.lock:
                    self.outcomes[out.split(":")[0] if out.startswith(
                        "gave up") else out] += 1
        except Exception as e:  # pylint: disable=broad-except
            with self.lock:
                self.outcomes["client error %s" % type(e).__name__] += 1
            self.stats.violation("load thread %d: %r" % (i, e))
        finally:
            if c:
                c.close()

    def stop(self):
        """No new flows; the ones under way get drain_seconds."""
        self.drain_end = time.time() + self.drain_seconds
        self.stop_ev.set()
        for t in self.threads:
            t.join(max(0.1, self.drain_end - time.time() + 35))
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            self.stats.violation("load threads still running after the "
                                 "drain: %s" % ", ".join(alive))
