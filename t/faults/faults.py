"""t/faults/faults.py: fault injection under load against a private stack
(started by t/faults/run.sh, which passes its env file). Run with Debian's
/usr/bin/python3.

  1 validator   kill -9 of the validator in the middle of validations,
                restart: every challenge reaches a final state exactly once
  2 postgres    pg_ctl stop -m fast, start: 503 serverInternal with
                Retry-After meanwhile, nothing half-written, resumes
  3 redis       shutdown nosave, start: badNonce then success on retry, a
                nonce spent before is refused after, lost validation jobs
                re-enqueued from PostgreSQL
  4 nginx       kill -9 of a worker, -s reload, -s quit and start: nothing
                lost beyond the killed worker's in-flight requests
  5 crash       an order left in processing with a reserved serial (der
                NULL): recover and the validator's own pass fail it, the
                serial is never used again
  6 concurrency 50 clients on one account, order and challenge at once
  secrets       the PKCS#11 PIN and EAB keys in no log and no response

Every fault runs with a bounded load (loadlib.Load) through it; then the
stack is left to settle and the invariants are checked on PostgreSQL, the
validator's log and the clients' records. A table is printed; the exit
status is 1 when an invariant broke.

usage: faults.py ENV_FILE [--only 1,2,...] [--workers N] [--scale F]
"""

import argparse
import base64
import collections
import concurrent.futures
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import traceback

import requests

from loadlib import (Client, GiveUp, Load, Stats, _ptype, read_stack_env,
                     run_flow, _poll)
from acmehelp import Http01Server, b64, csr_der, ec_key

HERE = os.path.dirname(os.path.abspath(__file__))
SVC = os.path.join(HERE, "svc.sh")
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")

# results of every fault, in order
RESULTS = []


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


class Ctx:
    def __init__(self, env_file, args):
        self.env = read_stack_env(env_file)
        self.dir = self.env["ACME_STACK_DIR"]
        self.args = args
        self.admin = os.path.join(self.env["ACME_REPO"], "build",
                                  "acme-server-admin")
        self.http01 = Http01Server(int(self.env["HTTP01PORT"]))
        with open(self.env["ACME_PIN_FILE"], encoding="ascii") as f:
            self.pin = f.read().strip()
        self.eab_keys = []          # (kid, hmac key base64url)
        self.validator_conf = read_conf(self.env["VALIDATOR_CONF"])
        self.reclaim_idle = int(self.validator_conf.get("reclaim_idle",
                                                        "60"))

    def secrets(self):
        out = [self.pin]
        for _, k in self.eab_keys:
            out += secret_forms(k)
        return out

    def svc(self, action):
        t0 = time.time()
        p = subprocess.run([SVC, self.dir, action], capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("svc.sh %s failed: %s%s" % (
                action, p.stdout, p.stderr))
        log("  %s (%.1fs) %s" % (action, time.time() - t0,
                                 p.stdout.strip().replace("\n", " ")))
        return p.stdout.strip()

    def sql(self, q):
        p = subprocess.run([os.path.join(PGBIN, "psql"), "-XAtq", "-F", "|",
                            "-v", "ON_ERROR_STOP=1", "-d",
                            self.env["ACME_DB_CONNINFO"], "-c", q],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (q[:80], p.stderr.strip()))
        return [line.split("|") for line in p.stdout.splitlines() if line]

    def sql1(self, q):
        rows = self.sql(q)
        return rows[0][0] if rows else None

    def admin_cmd(self, *argv):
        p = subprocess.run([self.admin] + list(argv) + [
            "--database", self.env["ACME_DB_CONNINFO"]],
            capture_output=True, text=True, timeout=60)
        return p

    def file_size(self, path):
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

    def read_from(self, path, offset):
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def read_conf(path):
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
    return conf


def secret_forms(b64url_key):
    """The base64url MAC key as printed, in standard base64 and in hex."""
    raw = base64.urlsafe_b64decode(b64url_key + "=" * (-len(b64url_key) % 4))
    return [b64url_key, base64.b64encode(raw).decode().rstrip("="),
            raw.hex(), raw.hex().upper()]


def public_id(url):
    return url.rstrip("/").rsplit("/", 1)[-1]


def quote_list(ids):
    return ",".join("'%s'" % i.replace("'", "") for i in ids) or "''"


# --- result of one fault -----------------------------------------------------

class Result:
    def __init__(self, num, name, stats):
        self.num = num
        self.name = name
        self.stats = stats
        self.notes = []
        self.numbers = collections.OrderedDict()
        self.t0 = time.time()
        self.t1 = None
        self.error = None

    def note(self, msg):
        self.notes.append(msg)
        log("  note: " + msg)

    def check(self, cond, msg):
        if not cond:
            self.stats.violation(msg)
            log("  VIOLATION: " + msg)
        return cond

    @property
    def ok(self):
        return not self.stats.all_violations() and self.error is None


def common_checks(ctx, res, pg_log_off, err_log_off, crash_possible,
                  expected_alerts=()):
    """After the load of a fault has drained: let the stack settle, then
    check the invariants on PostgreSQL, the validator log and the
    clients' records. crash_possible: an order may have been left in
    processing by the fault (recovery is then expected to fail it)."""
    st = res.stats
    # 1. challenges in processing reach a final state (reclaim, stale scan)
    limit = time.time() + 2 * ctx.reclaim_idle + ctx.reclaim_idle + 15
    while True:
        n = int(ctx.sql1("SELECT count(*) FROM challenges "
                         "WHERE status = 'processing'"))
        if n == 0 or time.time() > limit:
            break
        time.sleep(1)
    res.numbers["challenges stuck"] = n
    res.check(n == 0, "%d challenge(s) still processing %.0fs after the "
              "load stopped" % (n, time.time() - res.t_drained))

    # 2. orders in processing: half-written ones never exist; a fault
    #    that can crash an issuance leaves some for recovery
    half = int(ctx.sql1(
        "SELECT count(*) FROM orders o WHERE o.status = 'processing' AND "
        "NOT EXISTS (SELECT 1 FROM certificates c WHERE c.order_id = o.id)"))
    res.check(half == 0, "%d order(s) processing without a reserved "
              "certificate row (half-written)" % half)
    proc = int(ctx.sql1("SELECT count(*) FROM orders "
                        "WHERE status = 'processing'"))
    if proc and not crash_possible:
        res.check(False, "%d order(s) left processing although no "
                  "issuance could have been interrupted" % proc)
    p = ctx.admin_cmd("recover", "--older-than", "0", "--json")
    recovered = 0
    if p.returncode == 0:
        try:
            recovered = int(json.loads(p.stdout).get("recovered", 0))
        except (ValueError, AttributeError):
            recovered = proc
    else:
        res.check(False, "acme-server-admin recover failed: %s" %
                  p.stderr.strip())
    res.numbers["recovered"] = recovered
    proc = int(ctx.sql1("SELECT count(*) FROM orders "
                        "WHERE status = 'processing'"))
    res.check(proc == 0, "%d order(s) still processing after recovery"
              % proc)

    # 3. the clients' orders, reconciled with the database
    orders = dict(st.orders)
    ids = {public_id(u): u for u in orders}
    rows = {}
    if ids:
        for r in ctx.sql(
                "SELECT o.public_id, o.status, c.serial, c.der IS NOT NULL, "
                "(SELECT count(*) FROM challenges ch JOIN "
                "order_authorizations oa ON oa.authorization_id = "
                "ch.authorization_id WHERE oa.order_id = o.id AND "
                "ch.status = 'processing') FROM orders o LEFT JOIN "
                "certificates c ON c.order_id = o.id WHERE o.public_id IN "
                "(%s)" % quote_list(ids)):
            rows[r[0]] = r
    lost, stuck, valid, invalid, abandoned = [], [], 0, 0, 0
    for pid, url in ids.items():
        o = orders[url]
        r = rows.get(pid)
        if r is None:
            lost.append("%s: created (201) but not in the database" % pid)
            continue
        status, serial, has_der, chall_proc = r[1], r[2], r[3] == "t", \
            int(r[4])
        if status == "processing" or chall_proc:
            stuck.append("%s: %s%s" % (pid, status, " (challenge "
                                       "processing)" if chall_proc else ""))
        out = o.get("outcome")
        if out == "valid":
            valid += 1
            if status != "valid" or not has_der:
                lost.append("%s: client has a certificate, database says "
                            "%s" % (pid, status))
            elif serial and int(serial, 16) != o.get("serial"):
                res.check(False, "%s: client's certificate serial %x is "
                          "not the database's %s (a serial signed without "
                          "its row)" % (pid, o.get("serial"), serial))
        elif out == "invalid":
            invalid += 1
            if status != "invalid":
                res.check(False, "%s: client saw invalid, database says %s"
                          % (pid, status))
        else:
            abandoned += 1
    res.numbers["orders created"] = len(ids)
    res.numbers["orders valid"] = valid
    res.numbers["orders invalid"] = invalid
    res.numbers["orders abandoned"] = abandoned
    res.numbers["orders lost"] = len(lost)
    res.numbers["orders stuck"] = len(stuck)
    for x in lost[:10]:
        res.check(False, "order lost: " + x)
    for x in stuck[:10]:
        res.check(False, "order stuck: " + x)
    why = collections.Counter(o.get("why", "?") for o in orders.values()
                              if o.get("outcome") == "invalid")
    if why:
        res.note("orders invalid: " + ", ".join(
            "%s x%d" % kv for kv in why.most_common()))
    ab = collections.Counter(o.get("last", "?") for o in orders.values()
                             if o.get("outcome") not in ("valid", "invalid"))
    if ab:
        res.note("orders abandoned by the client, last seen: " + ", ".join(
            "%s x%d" % kv for kv in ab.most_common()))

    # 4. duplicate issuance, anywhere in the database
    dup_order = int(ctx.sql1("SELECT count(*) FROM (SELECT order_id FROM "
                             "certificates GROUP BY order_id HAVING "
                             "count(*) > 1) x"))
    dup_serial = int(ctx.sql1("SELECT count(*) FROM (SELECT serial FROM "
                              "certificates GROUP BY serial HAVING "
                              "count(*) > 1) x"))
    serials = [o["serial"] for o in orders.values() if "serial" in o]
    dup_client = len(serials) - len(set(serials))
    res.numbers["duplicate issuances"] = dup_order + dup_serial + dup_client
    res.check(dup_order == 0, "%d order(s) with two certificate rows"
              % dup_order)
    res.check(dup_serial == 0, "%d serial(s) in two rows" % dup_serial)
    res.check(dup_client == 0, "clients received %d certificate(s) with a "
              "serial seen before" % dup_client)
    bad = int(ctx.sql1("SELECT count(*) FROM certificates c JOIN orders o "
                       "ON o.id = c.order_id WHERE c.der IS NOT NULL AND "
                       "o.status <> 'valid'"))
    res.check(bad == 0, "%d certificate(s) stored for an order that is "
              "not valid" % bad)
    bad = int(ctx.sql1("SELECT count(*) FROM orders o WHERE o.status = "
                       "'valid' AND NOT EXISTS (SELECT 1 FROM certificates "
                       "c WHERE c.order_id = o.id AND c.der IS NOT NULL "
                       "AND o.certificate_id = c.id)"))
    res.check(bad == 0, "%d valid order(s) without their certificate"
              % bad)
    bad = int(ctx.sql1("SELECT count(*) FROM challenges ch JOIN "
                       "authorizations a ON a.id = ch.authorization_id "
                       "WHERE ch.status = 'valid' AND a.status = 'pending'"))
    res.check(bad == 0, "%d valid challenge(s) whose authorization is "
              "still pending" % bad)
    bad = int(ctx.sql1("SELECT count(*) FROM authorizations a WHERE "
                       "a.status = 'valid' AND NOT EXISTS (SELECT 1 FROM "
                       "challenges ch WHERE ch.authorization_id = a.id AND "
                       "ch.status = 'valid')"))
    res.check(bad == 0, "%d valid authorization(s) without a valid "
              "challenge" % bad)

    # 5. each challenge's result recorded once (validator log)
    counts = validator_results(ctx)
    twice = {k: v for k, v in counts.items() if v > 1}
    res.check(not twice, "challenge result recorded more than once: %s"
              % ", ".join("%s x%d" % kv for kv in list(twice.items())[:5]))
    mine = [public_id(u) for u in st.challenges]
    if mine:
        nonfinal = ctx.sql("SELECT public_id, status FROM challenges WHERE "
                           "public_id IN (%s) AND status NOT IN ('valid', "
                           "'invalid')" % quote_list(mine))
        res.check(not nonfinal, "%d responded challenge(s) not final: %s"
                  % (len(nonfinal), nonfinal[:5]))
        unlogged = [c for c in mine if counts.get(c, 0) == 0]
        if unlogged:
            # a final challenge with no result line: decided by someone
            # else (an authz deactivated, ...) or the line was lost
            res.note("%d responded challenge(s) with no result line in "
                     "validator.log" % len(unlogged))

    # 6. PostgreSQL deadlocks, nginx alerts
    pg = ctx.read_from(os.path.join(ctx.dir, "pg", "postgres.log"),
                       pg_log_off)
    dl = pg.count("deadlock detected")
    res.numbers["deadlocks"] = dl
    res.check(dl == 0, "PostgreSQL log: %d deadlock(s) detected" % dl)
    el = ctx.read_from(ctx.env["NGINX_ERROR_LOG"], err_log_off)
    alerts = [l for l in el.splitlines()
              if re.search(r"\[(alert|emerg)\]", l)
              and not any(re.search(e, l) for e in expected_alerts)]
    res.check(not alerts, "nginx error.log alerts: %s" % alerts[:5])
    res.numbers["HTTP 500"] = sum(1 for l in st.log if l[5].startswith(
        "500"))


RESULT_LINE = re.compile(r"\] \d+: challenge (\S+) \S+ \S+ (valid|invalid)")


def validator_results(ctx):
    counts = collections.Counter()
    try:
        with open(ctx.env["VALIDATOR_LOG"], encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                m = RESULT_LINE.search(line)
                if m:
                    counts[m.group(1)] += 1
    except OSError:
        pass
    return counts


class Fault:
    """Context manager: load running through a fault, then checks."""

    def __init__(self, ctx, num, name, workers=None, crash_possible=False,
                 expected_alerts=(), drain=90.0):
        self.ctx = ctx
        self.stats = Stats(name)
        self.stats.secrets = ctx.secrets()
        self.res = Result(num, name, self.stats)
        self.workers = workers or ctx.args.workers
        self.crash_possible = crash_possible
        self.expected_alerts = expected_alerts
        self.load = Load(ctx.env, self.stats, ctx.http01, self.workers,
                         "f%d" % num, drain_seconds=drain)

    def __enter__(self):
        log("== fault %d: %s" % (self.res.num, self.res.name))
        c = self.ctx
        self.pg_off = c.file_size(os.path.join(c.dir, "pg", "postgres.log"))
        self.err_off = c.file_size(c.env["NGINX_ERROR_LOG"])
        self.val_off = c.file_size(c.env["VALIDATOR_LOG"])
        self.load.start()
        return self

    def sleep(self, s):
        time.sleep(s * self.ctx.args.scale)

    def __exit__(self, et, ev, tb):
        res = self.res
        if et is not None:
            res.error = "%s: %s" % (et.__name__, ev)
            traceback.print_exception(et, ev, tb)
        log("  load stops; flows under way drain")
        self.load.stop()
        res.t_drained = time.time()
        try:
            common_checks(self.ctx, res, self.pg_off, self.err_off,
                          self.crash_possible, self.expected_alerts)
        except Exception as e:  # pylint: disable=broad-except
            traceback.print_exc()
            res.error = (res.error or "") + " checks: %r" % e
        vl = self.ctx.read_from(self.ctx.env["VALIDATOR_LOG"], self.val_off)
        res.note("validator: %d job(s) reclaimed (XAUTOCLAIM), %d stuck "
                 "challenge(s) queued again from PostgreSQL, %d order(s) "
                 "recovered" % (vl.count("reclaimed job"),
                                vl.count("queued again"),
                                sum(int(m) for m in re.findall(
                                    r"recovery: (\d+) order", vl))))
        res.t1 = time.time()
        res.outcomes = self.load.outcomes
        RESULTS.append(res)
        log("  %s in %.0fs: %d requests, %s" % (
            "ok" if res.ok else "FAILED", res.t1 - res.t0,
            self.stats.requests, dict(res.numbers)))
        return True      # the next fault runs anyway


def window_answers(stats, t0, t1, methods=("POST",)):
    """Outcomes of the requests sent and answered within [t0, t1]."""
    return collections.Counter(
        l[5] for l in stats.log
        if l[3] in methods and l[1] >= t0 and l[2] <= t1)


def first_ok_post(stats, t):
    ends = [l[2] for l in stats.log
            if l[3] == "POST" and l[1] >= t and l[5][0] == "2"]
    return min(ends) - t if ends else None


# --- 1. validator kill -9 ----------------------------------------------------

def fault_validator(ctx):
    with Fault(ctx, 1, "validator kill -9 + restart") as f:
        ctx.http01.delay = 0.5       # validations take a while: in flight
        f.sleep(8)
        inflight = ctx.sql("SELECT public_id FROM challenges "
                           "WHERE status = 'processing'")
        pend = redis_pending(ctx)
        ctx.svc("validator-kill9")
        f.res.note("at the kill: %d challenge(s) processing, %s job(s) "
                   "delivered and unacknowledged" % (len(inflight), pend))
        f.res.check(len(inflight) > 0, "no validation in flight at the "
                    "kill: the fault was not exercised")
        f.sleep(3)
        ctx.svc("validator-start")
        f.sleep(10)
        ctx.http01.delay = 0.0
        f.inflight = [r[0] for r in inflight]
    # those in flight at the kill: final, recorded once
    res = f.res
    if getattr(f, "inflight", None):
        rows = ctx.sql("SELECT public_id, status FROM challenges WHERE "
                       "public_id IN (%s)" % quote_list(f.inflight))
        counts = validator_results(ctx)
        notfinal = [r for r in rows if r[1] not in ("valid", "invalid")]
        res.check(not notfinal, "challenges in flight at the kill not "
                  "final: %s" % notfinal[:5])
        once = sum(1 for r in rows if counts.get(r[0]) == 1)
        res.note("challenges in flight at the kill: %d, final %d, result "
                 "recorded exactly once %d" % (len(rows), len(rows) -
                                               len(notfinal), once))
        res.check(once == len(rows), "%d in-flight challenge(s) without "
                  "exactly one recorded result" % (len(rows) - once))
        res.numbers["in flight at kill"] = len(rows)


def redis_pending(ctx):
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p",
                        ctx.env["REDISPORT"], "XPENDING", "acme:validations",
                        "validators"], capture_output=True, text=True,
                       timeout=10)
    return p.stdout.split("\n")[0].strip() if p.returncode == 0 else "?"


# --- 2. PostgreSQL stop/start -----------------------------------------------

def fault_postgres(ctx):
    eab_kid, eab_mac = new_eab_key(ctx)
    with Fault(ctx, 2, "PostgreSQL stop -m fast + start",
               crash_possible=True) as f:
        st = f.stats
        st.secrets = ctx.secrets()
        f.sleep(6)
        ctx.svc("pg-stop")
        t_down = time.time()
        # an EAB registration during the outage (error paths and logs)
        strict = Client(st, ctx.env, directory_url=ctx.env["ACME_HTTPS_BASE"]
                        + "/strict/directory", retry=False)
        r = eab_register(strict, eab_kid, eab_mac)
        f.res.check(r.status_code == 503 and _ptype(r) == "serverInternal"
                    and r.headers.get("Retry-After"),
                    "newAccount with EAB during the outage: %d %s "
                    "Retry-After=%r" % (r.status_code, _ptype(r),
                                        r.headers.get("Retry-After")))
        f.sleep(6)
        t_up0 = time.time()
        ctx.svc("pg-start")
        t_up = time.time()
        f.sleep(12)
        # the same key after the outage binds an account
        strict.retry = True
        strict.key = ec_key()
        r = eab_register(strict, eab_kid, eab_mac)
        f.res.check(r.status_code == 201, "EAB newAccount after the "
                    "outage: %d %s" % (r.status_code, r.text[:200]))
        strict.close()
        during = window_answers(st, t_down, t_up0)
        resume = first_ok_post(st, t_up)
    res = f.res
    bad = {k: v for k, v in during.items()
           if k[0] != "2" and k != "503 serverInternal"
           and not k.startswith("conn:")}
    n503 = during.get("503 serverInternal", 0)
    res.note("POST answers during the outage: %s" % dict(during))
    res.check(n503 > 0, "no 503 serverInternal seen during the outage")
    res.check(not bad, "answers during the outage other than 503 "
              "serverInternal: %s" % bad)
    res.check(not any(k[0] == "2" for k in during),
              "POSTs succeeded while PostgreSQL was down: %s" % during)
    res.numbers["503 in outage"] = n503
    res.check(resume is not None and resume < 10, "service did not resume "
              "by itself within 10 s after the restart (first POST ok "
              "after %s s)" % resume)
    res.note("first successful POST %.2fs after PostgreSQL was up"
             % (resume or -1))


def new_eab_key(ctx):
    p = ctx.admin_cmd("eab", "add", "--ca", "/strict/", "--json")
    if p.returncode != 0:
        raise RuntimeError("eab add: %s" % p.stderr)
    j = json.loads(p.stdout)
    ctx.eab_keys.append((j["kid"], j["hmac_key"]))
    return j["kid"], j["hmac_key"]


def eab_register(c, kid, mac_b64):
    import hashlib
    import hmac
    mac = base64.urlsafe_b64decode(mac_b64 + "=" * (-len(mac_b64) % 4))
    url = c.dir["newAccount"]
    prot = b64(json.dumps({"alg": "HS256", "kid": kid, "url": url}))
    pay = b64(c.key.public_key().json_dumps())
    sig = hmac.new(mac, (prot + "." + pay).encode(), hashlib.sha256).digest()
    return c.post(url, {"termsOfServiceAgreed": True,
                        "contact": ["mailto:ops@example.test"],
                        "externalAccountBinding": {
                            "protected": prot, "payload": pay,
                            "signature": b64(sig)}}, use_jwk=True)


# --- 3. Redis stop/start ----------------------------------------------------

def prepare_pending(ctx, c, tag, n):
    """n orders with their http-01 answer in place, not yet responded:
    returns the challenge urls."""
    urls = []
    thumb = c.thumbprint()
    for i in range(n):
        r = c.post(c.dir["newOrder"], {"identifiers": [
            {"type": "dns", "value": "%s-%d-%s.example.test" % (
                tag, i, secrets.token_hex(3))}]})
        assert r.status_code == 201, r.text
        a = c.get(r.json()["authorizations"][0]).json()
        ch = next(x for x in a["challenges"] if x["type"] == "http-01")
        ctx.http01.responses[ch["token"]] = ch["token"] + "." + thumb
        urls.append(ch["url"])
    return urls


def fault_redis(ctx):
    with Fault(ctx, 3, "Redis shutdown nosave + start (data lost)") as f:
        st = f.stats
        c = Client(st, ctx.env)
        c.register()
        burst = prepare_pending(ctx, c, "f3burst", 16)
        # a nonce spent now, replayed later
        n = c.nonce()
        spent = c.sign(c.kid, b"", nonce=n)
        r = c.send("POST", c.kid, data=spent,
                   headers={"Content-Type": "application/jose+json"})
        f.res.check(r.status_code == 200, "POST-as-GET account: %d"
                    % r.status_code)
        r = c.send("POST", c.kid, data=spent,
                   headers={"Content-Type": "application/jose+json"})
        f.res.check(r.status_code == 400 and _ptype(r) == "badNonce",
                    "spent nonce replayed before the restart: %d %s"
                    % (r.status_code, _ptype(r)))
        ctx.http01.delay = 1.0
        f.sleep(5)
        for u in burst:                  # jobs queued behind the backlog
            c.post(u, {})
        st.challenges.update(burst)
        f.at_stop = [r[0] for r in ctx.sql(
            "SELECT public_id FROM challenges WHERE status = 'processing'")]
        queued = len(f.at_stop)
        slen = redis_xlen(ctx)
        ctx.svc("redis-stop")
        t_down = time.time()
        f.res.note("at the stop: %s challenge(s) processing, stream length "
                   "%s, pending %s" % (queued, slen, "?"))
        f.sleep(3)
        t_up0 = time.time()
        ctx.svc("redis-start")
        t_up = time.time()
        ctx.http01.delay = 0.1
        time.sleep(1.2)
        r = c.send("POST", c.kid, data=spent,
                   headers={"Content-Type": "application/jose+json"})
        f.res.check(r.status_code == 400 and _ptype(r) == "badNonce",
                    "nonce spent before the Redis restart replayed after "
                    "it: %d %s (must be badNonce)" % (r.status_code,
                                                      _ptype(r)))
        f.sleep(10)
        c.close()
        during = window_answers(st, t_down, t_up0)
        after = window_answers(st, t_up, time.time())
        resume = first_ok_post(st, t_up)
        f.burst = burst
    res = f.res
    res.note("POST answers while Redis was down: %s" % dict(during))
    res.note("POST answers after the restart: badNonce x%d, ok x%d" % (
        after.get("400 badNonce", 0),
        sum(v for k, v in after.items() if k[0] == "2")))
    res.numbers["badNonce after restart"] = after.get("400 badNonce", 0)
    res.check(after.get("400 badNonce", 0) > 0, "no badNonce after the "
              "Redis restart: nonces minted before it were accepted")
    bad = {k: v for k, v in during.items()
           if k[0] != "2" and k not in ("503 serverInternal",)}
    res.check(not bad, "answers while Redis was down other than 503 "
              "serverInternal: %s" % bad)
    res.check(resume is not None and resume < 10, "service did not resume "
              "within 10 s of the Redis restart (%s)" % resume)
    rows = ctx.sql("SELECT public_id, status FROM challenges WHERE "
                   "public_id IN (%s)" % quote_list(
                       [public_id(u) for u in f.burst]))
    notvalid = [r for r in rows if r[1] != "valid"]
    res.check(not notvalid and len(rows) == len(f.burst),
              "challenges queued when Redis lost its data not valid: %s"
              % notvalid[:5])
    rows = ctx.sql("SELECT public_id, status FROM challenges WHERE "
                   "public_id IN (%s)" % quote_list(f.at_stop))
    notfinal = [r for r in rows if r[1] not in ("valid", "invalid")]
    res.check(not notfinal, "challenges processing when Redis stopped not "
              "final after the restart: %s" % notfinal[:5])
    res.numbers["processing at stop"] = len(f.at_stop)
    requeued = sum(1 for l in open(ctx.env["VALIDATOR_LOG"],
                                   errors="replace")
                   if "stuck in processing, queued again" in l)
    res.note("validator re-enqueued %d stuck challenge(s) from PostgreSQL "
             "(whole run so far)" % requeued)


def redis_xlen(ctx):
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p",
                        ctx.env["REDISPORT"], "XLEN", "acme:validations"],
                       capture_output=True, text=True, timeout=10)
    return p.stdout.strip()


# --- 4. nginx ----------------------------------------------------------------

def fault_nginx(ctx):
    with Fault(ctx, 4, "nginx: worker kill -9 x2, reload x3, quit+start x3",
               crash_possible=True,
               expected_alerts=(r"exited on signal 9",)) as f:
        f.sleep(5)
        f.kills = []
        for _ in range(2):
            t_kill = time.time()
            ctx.svc("nginx-kill-worker")
            f.kills.append(t_kill)
            f.sleep(3)
        f.graceful = []
        for _ in range(3):
            t_reload = time.time()
            ctx.svc("nginx-reload")
            f.graceful.append((t_reload, time.time()))
            f.sleep(3)
        f.stopped = []
        for _ in range(3):
            t_quit = time.time()
            ctx.svc("nginx-quit")
            ctx.svc("nginx-start")
            f.stopped.append((t_quit, time.time()))
            f.graceful.append((t_quit, time.time()))
            f.sleep(3)
        f.t_started = time.time()
        f.sleep(2)
    res, st = f.res, f.stats
    if not hasattr(f, "t_started"):
        return
    served = faults_log(ctx)
    errs = [l for l in st.log if l[5].startswith("conn:")]
    refused = [l for l in errs if l[5] == "conn:refused"]
    killed = [l for l in errs if l[5] != "conn:refused"
              and any(l[1] <= t + 0.05 and l[2] >= t - 0.05
                      for t in f.kills)]
    # a graceful reload or quit closes idle keep-alive connections; a
    # request sent on one at that instant is never read by nginx (not in
    # faults.log) and fails at the client: nothing was done, a client
    # sends it again on a new connection.  Not a lost request.
    unread = [l for l in errs if l not in refused and l not in killed
              and l[0] not in served
              and any(l[1] <= t1 + 1 and l[2] >= t0 - 1
                      for t0, t1 in getattr(f, "graceful", []))]
    lost = [l for l in errs if l not in refused and l not in killed
            and l not in unread]
    res.numbers["refused while stopped"] = len(refused)
    res.numbers["killed worker in-flight"] = len(killed)
    res.numbers["keep-alive closed, unread"] = len(unread)
    res.numbers["requests lost"] = len(lost)
    odd = [l for l in refused
           if not any(t0 <= l[2] <= t1 + 1 for t0, t1 in f.stopped)]
    res.check(not odd, "connections refused outside the quit..start "
              "window: %d" % len(odd))
    for l in lost[:10]:
        res.check(False, "request lost: %s %s at +%.2fs: %s (%s by nginx)"
                  % (l[3], l[4], l[1] - res.t0, l[5],
                     "answered" if l[0] in served else "not answered"))
    res.note("connection errors: %s" % dict(collections.Counter(
        l[5] for l in errs)))


def faults_log(ctx):
    out = {}
    try:
        with open(os.path.join(ctx.env["NGINX_PREFIX"], "logs",
                               "faults.log"), encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                p = line.split()
                if len(p) >= 2:
                    out[p[0]] = p[1:]
    except OSError:
        pass
    return out


# --- 5. crash between signing and storing -----------------------------------

def ready_order(ctx, c, name):
    r = c.post(c.dir["newOrder"], {"identifiers": [{"type": "dns",
                                                    "value": name}]})
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    o = r.json()
    thumb = c.thumbprint()
    for az in o["authorizations"]:
        a = c.get(az).json()
        if a["status"] != "pending":
            continue
        ch = next(x for x in a["challenges"] if x["type"] == "http-01")
        ctx.http01.responses[ch["token"]] = ch["token"] + "." + thumb
        c.post(ch["url"], {})
    o = _poll(c, url, ("pending",), time.time() + 60)
    assert o and o["status"] == "ready", o
    return url, o


def simulate_crash(ctx, order_url, age_s):
    """The state a crash between signing and storing leaves: the order
    processing since age_s seconds, its serial reserved (der NULL)."""
    serial = bytearray(secrets.token_bytes(16))
    serial[0] = (serial[0] & 0x7f) | 0x01
    serial = serial.hex()
    ctx.sql("BEGIN; UPDATE orders SET status = 'processing', updated_at = "
            "now() - make_interval(secs => %d) WHERE public_id = '%s' AND "
            "status = 'ready'; INSERT INTO certificates (public_id, serial, "
            "order_id, account_id) SELECT '%s', '%s', id, account_id FROM "
            "orders WHERE public_id = '%s' AND status = 'processing'; COMMIT"
            % (age_s, public_id(order_url), "faultsim" + secrets.token_hex(8),
               serial, public_id(order_url)))
    return serial


def order_state(ctx, url):
    r = ctx.sql("SELECT o.status, coalesce(o.error, ''), (SELECT count(*) "
                "FROM certificates c WHERE c.order_id = o.id), (SELECT "
                "count(*) FROM certificates c WHERE c.order_id = o.id AND "
                "c.der IS NULL) FROM orders o WHERE o.public_id = '%s'"
                % public_id(url))
    return r[0] if r else None


def fault_crash(ctx):
    with Fault(ctx, 5, "crash between signing and storing (simulated)",
               workers=max(2, ctx.args.workers // 2),
               crash_possible=True) as f:
        res, st = f.res, f.stats
        c = Client(st, ctx.env)
        c.register()
        names = ["f5-%s-%s.example.test" % (x, secrets.token_hex(3))
                 for x in "abc"]
        (ua, oa), (ub, ob), (uc, oc) = [ready_order(ctx, c, n)
                                        for n in names]
        sa = simulate_crash(ctx, ua, 600)   # older than admin's 300 s
        sb = simulate_crash(ctx, ub, 200)   # only the validator's 120 s
        sc = simulate_crash(ctx, uc, 0)     # fresh
        f.reserved = [sa, sb, sc]
        res.note("reserved serials %s" % ", ".join(f.reserved))
        p = ctx.admin_cmd("recover")
        res.check(p.returncode == 0, "recover: %s" % p.stderr.strip())
        a, b, cc = order_state(ctx, ua), order_state(ctx, ub), \
            order_state(ctx, uc)
        res.check(a[0] == "invalid", "recover (300 s): 10-minute-old order "
                  "is %s" % a[0])
        res.check(b[0] == "processing" and cc[0] == "processing",
                  "recover (300 s) touched younger orders: %s %s"
                  % (b[0], cc[0]))
        # the validator's own pass (every reclaim_idle/2 s, 120 s age)
        end = time.time() + ctx.reclaim_idle + 10
        while order_state(ctx, ub)[0] == "processing" and time.time() < end:
            time.sleep(0.5)
        b = order_state(ctx, ub)
        res.check(b[0] == "invalid", "validator's recovery pass left the "
                  "200-s-old order %s" % b[0])
        res.check(order_state(ctx, uc)[0] == "processing",
                  "the validator recovered a fresh processing order")
        for u, s in ((ua, sa), (ub, sb)):
            o = c.get(u).json()
            res.check(o["status"] == "invalid" and "serverInternal" in
                      json.dumps(o.get("error", {})) and
                      "certificate" not in o,
                      "recovered order as served: %s" % o)
            der, _ = csr_der(o["identifiers"] and
                             [o["identifiers"][0]["value"]])
            r = c.post(o["finalize"], {"csr": b64(der)})
            res.check(r.status_code == 403 and _ptype(r) == "orderNotReady",
                      "finalize of a recovered order: %d %s"
                      % (r.status_code, _ptype(r)))
        f.sleep(5)
        f.c, f.uc, f.names = c, uc, names
    # after the load: recover --older-than 0 takes the fresh one too
    c = f.c
    cs = order_state(ctx, f.uc)
    res.check(cs and cs[0] == "invalid", "recover --older-than 0 (run by "
              "the checks) left the fresh order %s" % (cs and cs[0]))
    # new orders for the same names issue with other serials
    for n in f.names:
        try:
            out = run_flow(c, ctx.http01, [n], st)
        except (GiveUp, requests.RequestException) as e:
            out = repr(e)
        res.check(out == "valid", "a new order for %s after recovery: %s"
                  % (n, out))
    c.close()
    rows = ctx.sql("SELECT serial, der IS NULL FROM certificates WHERE "
                   "serial IN (%s)" % quote_list(f.reserved))
    res.check(len(rows) == 3 and all(r[1] == "t" for r in rows),
              "reserved serials are not kept as reserved rows: %s" % rows)
    issued = {o["serial"] for o in st.orders.values() if "serial" in o}
    reused = [s for s in f.reserved if int(s, 16) in issued]
    res.check(not reused, "reserved serials signed later: %s" % reused)
    n2 = int(ctx.sql1("SELECT count(*) FROM (SELECT order_id FROM "
                      "certificates GROUP BY order_id HAVING count(*) > 1) "
                      "x"))
    res.check(n2 == 0, "%d order(s) with two certificates" % n2)


# --- 6. concurrency -----------------------------------------------------------

def fault_concurrency(ctx):
    with Fault(ctx, 6, "50 clients on one account/order/challenge",
               workers=max(2, ctx.args.workers // 2)) as f:
        res, st = f.res, f.stats
        owner = Client(st, ctx.env)
        owner.register()
        N = 50

        def clients(n, key=None):
            cs = []
            for _ in range(n):
                x = Client(st, ctx.env, key=key or owner.key, retry=False)
                x.kid = owner.kid
                cs.append(x)
            return cs

        def at_once(jobs):
            """jobs: callables; all started together; returns results
            (a response, or an exception)."""
            barrier = threading.Barrier(len(jobs))

            def run(j):
                prep = j[0]()
                barrier.wait(30)
                try:
                    return j[1](prep)
                except Exception as e:  # pylint: disable=broad-except
                    return e
            with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
                return list(ex.map(run, jobs))

        def tally(rs):
            return collections.Counter(
                ("%d %s" % (r.status_code, _ptype(r) or "")).strip()
                if hasattr(r, "status_code") else "exc " + type(r).__name__
                for r in rs)

        def no5xx(label, rs):
            t = tally(rs)
            res.note("%s: %s" % (label, dict(t)))
            res.check(not [k for k in t if k[0] == "5" or
                           k.startswith("exc")],
                      "%s: server errors or no answer: %s" % (label, t))
            return t

        cs = clients(N)
        # a. respond to one challenge 50 times at once
        r = owner.post(owner.dir["newOrder"], {"identifiers": [
            {"type": "dns", "value": "f6-%s.example.test" %
             secrets.token_hex(3)}]})
        url = r.headers["Location"]
        o = r.json()
        a = owner.get(o["authorizations"][0]).json()
        ch = next(x for x in a["challenges"] if x["type"] == "http-01")
        ctx.http01.responses[ch["token"]] = ch["token"] + "." + \
            owner.thumbprint()
        st.challenges.add(ch["url"])
        rs = at_once([(lambda x=x: x.sign(ch["url"], {}),
                       lambda b, x=x: x.send("POST", ch["url"], data=b,
                                             headers={"Content-Type":
                                                      "application/jose+json"}))
                      for x in cs])
        t = no5xx("challenge response x50", rs)
        res.check(set(t) <= {"200"}, "challenge response x50: answers "
                  "other than 200: %s" % t)
        o = _poll(owner, url, ("pending",), time.time() + 60)
        res.check(o and o["status"] == "ready", "order after the challenge "
                  "race: %s" % (o and o["status"]))
        cid = public_id(ch["url"])
        time.sleep(1)
        n = validator_results(ctx).get(cid, 0)
        res.check(n == 1, "challenge %s result recorded %d times" % (cid, n))
        st.order(url, outcome=None)
        # b. finalize 50 times at once
        csrs = [csr_der([o["identifiers"][0]["value"]])[0] for _ in cs]
        rs = at_once([(lambda x=x, d=d: x.sign(o["finalize"],
                                               {"csr": b64(d)}),
                       lambda b, x=x: x.send("POST", o["finalize"], data=b,
                                             headers={"Content-Type":
                                                      "application/jose+json"}))
                      for x, d in zip(cs, csrs)])
        t = no5xx("finalize x50", rs)
        ok = [x for x in rs if getattr(x, "status_code", 0) == 200]
        res.check(len(ok) == 1, "finalize x50: %d successes (want 1)"
                  % len(ok))
        res.check(t.get("403 orderNotReady", 0) == N - len(ok),
                  "finalize x50: the others are not all orderNotReady: %s"
                  % t)
        o = _poll(owner, url, ("ready", "processing"), time.time() + 30)
        rows = int(ctx.sql1("SELECT count(*) FROM certificates c JOIN "
                            "orders o ON o.id = c.order_id WHERE "
                            "o.public_id = '%s'" % public_id(url)))
        res.check(o and o["status"] == "valid" and rows == 1,
                  "after finalize x50: order %s, %d certificate row(s)"
                  % (o and o["status"], rows))
        if o and o["status"] == "valid":
            from cryptography import x509
            leaf = x509.load_pem_x509_certificate(
                owner.get(o["certificate"]).content)
            st.order(url, outcome="valid", serial=leaf.serial_number)
        # c. key change racing new orders: 25 keyChanges (distinct new
        #    keys) and 25 newOrders, all signed with the current key
        new_keys = [ec_key() for _ in range(25)]
        kc_url = owner.dir["keyChange"]

        def kc_body(x, nk):
            from acme import jws as acme_jws
            import josepy as jose
            inner = acme_jws.JWS.sign(json.dumps({
                "account": owner.kid,
                "oldKey": owner.key.public_key().to_partial_json()})
                .encode(), key=nk, alg=jose.ES256, nonce=None, url=kc_url)
            return x.sign(kc_url, json.loads(inner.json_dumps()))

        jobs = []
        for i, x in enumerate(cs):
            if i < 25:
                jobs.append((lambda x=x, nk=new_keys[i]: kc_body(x, nk),
                             lambda b, x=x: x.send(
                                 "POST", kc_url, data=b, headers={
                                     "Content-Type":
                                     "application/jose+json"})))
            else:
                nurl = owner.dir["newOrder"]
                jobs.append((lambda x=x, nurl=nurl: x.sign(nurl, {
                    "identifiers": [{"type": "dns", "value":
                                     "f6k-%s.example.test" %
                                     secrets.token_hex(3)}]}),
                             lambda b, x=x, nurl=nurl: x.send(
                                 "POST", nurl, data=b, headers={
                                     "Content-Type":
                                     "application/jose+json"})))
        rs = at_once(jobs)
        no5xx("keyChange x25 + newOrder x25", rs)
        details = collections.Counter(
            "%d %s (Location %s)" % (
                r.status_code, r.json().get("detail", "")[:70],
                "this account" if r.headers.get("Location") == owner.kid
                else r.headers.get("Location", "none"))
            for r in rs[:25] if getattr(r, "status_code", 200) != 200)
        res.note("keyChange losers: %s" % dict(details))
        kc_ok = [i for i, r in enumerate(rs[:25])
                 if getattr(r, "status_code", 0) == 200]
        res.check(len(kc_ok) == 1, "keyChange x25 at once: %d succeeded "
                  "(want exactly 1)" % len(kc_ok))
        for r in rs[25:]:
            if getattr(r, "status_code", 0) == 201:
                st.order(r.headers["Location"], outcome=None,
                         last="pending (race)")
        thumb = ctx.sql1("SELECT jwk_thumbprint FROM accounts WHERE "
                         "public_id = '%s'" % public_id(owner.kid))
        import josepy as jose
        winners = [i for i, k in enumerate(new_keys)
                   if jose.b64encode(k.public_key().thumbprint()).decode()
                   == thumb]
        res.check(len(winners) == 1 and (not kc_ok or winners == kc_ok),
                  "account key after the race is key %s, keyChange "
                  "answered 200 for %s" % (winners, kc_ok))
        if winners:
            owner.key = new_keys[winners[0]]
            r = owner.get(owner.kid)
            res.check(r.status_code == 200, "the new key does not sign for "
                      "the account: %d" % r.status_code)
        # d. authorization deactivation racing the challenge response
        pairs = []
        for i in range(20):
            r = owner.post(owner.dir["newOrder"], {"identifiers": [
                {"type": "dns", "value": "f6d-%d-%s.example.test" % (
                    i, secrets.token_hex(3))}]})
            ou = r.headers["Location"]
            az = r.json()["authorizations"][0]
            a = owner.get(az).json()
            chx = next(x for x in a["challenges"] if x["type"] == "http-01")
            ctx.http01.responses[chx["token"]] = chx["token"] + "." + \
                owner.thumbprint()
            st.order(ou, outcome=None, last="deactivation race")
            pairs.append((ou, az, chx["url"]))
        cs2 = clients(2 * len(pairs), key=owner.key)
        jobs = []
        for i, (ou, az, cu) in enumerate(pairs):
            x, y = cs2[2 * i], cs2[2 * i + 1]
            jobs.append((lambda x=x, cu=cu: x.sign(cu, {}),
                         lambda b, x=x, cu=cu: x.send(
                             "POST", cu, data=b, headers={
                                 "Content-Type": "application/jose+json"})))
            jobs.append((lambda y=y, az=az: y.sign(az, {"status":
                                                        "deactivated"}),
                         lambda b, y=y, az=az: y.send(
                             "POST", az, data=b, headers={
                                 "Content-Type": "application/jose+json"})))
        rs = at_once(jobs)
        no5xx("challenge response x20 racing authz deactivation x20", rs)
        seen = collections.Counter(
            "challenge answered %s" % r.json().get("status")
            for r in rs[0::2] if getattr(r, "status_code", 0) == 200)
        res.note("challenge responses racing deactivation: %s" % dict(seen))
        time.sleep(3)
        proc = ctx.sql("SELECT public_id FROM challenges WHERE public_id IN "
                       "(%s) AND status = 'processing'" % quote_list(
                           [public_id(p[2]) for p in pairs]))
        res.check(not proc, "challenges of deactivated authorizations "
                  "still processing: %s" % proc)
        for ou, az, cu in pairs:
            o2 = owner.get(ou).json()
            a2 = owner.get(az).json()
            res.check(o2["status"] == "invalid" and
                      a2["status"] == "deactivated",
                      "after deactivation raced the challenge: order %s, "
                      "authz %s" % (o2["status"], a2["status"]))
            if o2["status"] == "invalid":
                st.order(ou, outcome="invalid", why="authz deactivated")
        for x in cs + cs2:
            x.close()
        owner.close()


# --- secrets ------------------------------------------------------------------

def check_secrets(ctx):
    stats = Stats("secrets")
    res = Result("S", "secrets in logs (PIN, EAB keys)", stats)
    log("== secrets")
    # one more EAB key: a wrong MAC and a good registration
    kid, mac = new_eab_key(ctx)
    c = Client(stats, ctx.env, directory_url=ctx.env["ACME_HTTPS_BASE"]
               + "/strict/directory")
    stats.secrets = ctx.secrets()
    bad = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() \
        .rstrip("=")
    r = eab_register(c, kid, bad)
    res.check(r.status_code in (400, 403), "EAB with a wrong MAC: %d"
              % r.status_code)
    r = eab_register(c, kid, mac)
    res.check(r.status_code == 201, "EAB registration: %d %s"
              % (r.status_code, r.text[:200]))
    c.close()
    files = [ctx.env["NGINX_ERROR_LOG"], ctx.env["NGINX_ACCESS_LOG"],
             os.path.join(ctx.env["NGINX_PREFIX"], "logs", "faults.log"),
             ctx.env["VALIDATOR_LOG"],
             os.path.join(ctx.dir, "pg", "postgres.log")]
    found = []
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for s in ctx.secrets():
            if s and s in text:
                found.append("%s in %s" % ("PIN" if s == ctx.pin
                                           else "an EAB key", path))
    res.numbers["EAB keys"] = len(ctx.eab_keys)
    res.numbers["files searched"] = len(files)
    res.numbers["secrets found"] = len(found)
    for x in found:
        res.check(False, "secret found: " + x)
    res.t1 = time.time()
    res.outcomes = {}
    RESULTS.append(res)


# --- report -------------------------------------------------------------------

def report():
    print()
    print("=" * 100)
    print("fault-injection results")
    print("=" * 100)
    hdr = ("%-3s %-46s %8s %8s %7s %6s %5s %5s %5s %4s %s" % (
        "#", "fault", "requests", "failures", "created", "valid", "lost",
        "stuck", "recov", "dup", "result"))
    print(hdr)
    print("-" * len(hdr))
    for r in RESULTS:
        n = r.numbers
        print("%-3s %-46s %8d %8d %7s %6s %5s %5s %5s %4s %s" % (
            r.num, r.name[:46], r.stats.requests,
            sum(r.stats.failures.values()), n.get("orders created", "-"),
            n.get("orders valid", "-"), n.get("orders lost", "-"),
            n.get("orders stuck", "-"), n.get("recovered", "-"),
            n.get("duplicate issuances", "-"),
            "ok" if r.ok else "FAIL"))
    print()
    for r in RESULTS:
        print("-- %s %s (%.0fs)" % (r.num, r.name, (r.t1 or time.time())
                                    - r.t0))
        f = r.stats.failures
        print("   requests sent %d; failures %d%s" % (
            r.stats.requests, sum(f.values()),
            (": " + ", ".join("%s x%d" % kv for kv in f.most_common()))
            if f else ""))
        extra = {k: v for k, v in r.numbers.items()}
        print("   " + ", ".join("%s %s" % kv for kv in extra.items()))
        if getattr(r, "outcomes", None):
            print("   flows: " + ", ".join("%s x%d" % kv for kv in
                                           r.outcomes.most_common()))
        for x in r.notes:
            print("   note: " + x)
        if r.error:
            print("   ERROR: " + r.error)
        vs = r.stats.all_violations()
        for v in vs[:25]:
            print("   VIOLATION: " + v)
        if len(vs) > 25:
            print("   ... %d more violations" % (len(vs) - 25))
    bad = [r for r in RESULTS if not r.ok]
    print()
    if bad:
        print("faults: FAILED: %s" % ", ".join(str(r.num) for r in bad))
    else:
        print("faults: all invariants held")
    return 1 if bad else 0


FAULTS = {"1": fault_validator, "2": fault_postgres, "3": fault_redis,
          "4": fault_nginx, "5": fault_crash, "6": fault_concurrency,
          "S": check_secrets}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("env_file")
    ap.add_argument("--only", default="1,2,3,4,5,6,S")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the load phases' durations")
    args = ap.parse_args()
    ctx = Ctx(args.env_file, args)
    log("stack %s, validator reclaim_idle %d s, %d load workers" % (
        ctx.dir, ctx.reclaim_idle, args.workers))
    try:
        for k in args.only.split(","):
            try:
                FAULTS[k.strip()](ctx)
            except Exception as e:  # pylint: disable=broad-except
                traceback.print_exc()
                st = Stats("fault %s" % k)
                r = Result(k, "fault %s (crashed)" % k, st)
                r.error = repr(e)
                r.t1 = time.time()
                RESULTS.append(r)
    finally:
        ctx.http01.close()
    sys.exit(report())


if __name__ == "__main__":
    main()
