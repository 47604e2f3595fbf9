#!/usr/bin/python3
"""bench/report.py RUNS.jsonl WRK.jsonl ALERTS.log OUT.json

Turns the acme-bench JSON lines and the wrk results of bench/run.sh into
one table (stdout) and one JSON document (OUT.json).  With several
repetitions, each cell is the median over them.
"""

import json
import os
import platform
import statistics
import sys
import time


def load_lines(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def median_run(runs):
    """the run with the median rate (keeps its latencies and CPU)"""
    if not runs:
        return None
    runs = sorted(runs, key=lambda r: r.get("ops_per_s", 0))
    return runs[(len(runs) - 1) // 2]


def p99(r):
    return r.get("latency_ms", {}).get("total", {}).get("p99", 0) if r else 0


def cpu(r):
    return r.get("server", {}).get("cpu_ms_per_op", 0) if r else 0


def rate(r):
    return r.get("ops_per_s", 0) if r else 0


def fmt_ms(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def note(r):
    if r is None:
        return "-"
    parts = []
    if r.get("stalled"):
        parts.append("STALL")
    if r.get("errors"):
        parts.append("%d err" % r["errors"])
    return ",".join(parts)


def main():
    runs_path, wrk_path, alerts_path, out_path = sys.argv[1:5]
    runs = load_lines(runs_path)
    wrk = load_lines(wrk_path)
    alerts = []
    if os.path.exists(alerts_path):
        alerts = [a.rstrip("\n") for a in open(alerts_path) if a.strip()]

    cells = {}
    order = []
    for r in runs:
        key = (r.get("variant", r["mode"]), r["concurrency"])
        if key not in order:
            order.append(key)
        cells.setdefault(key, {}).setdefault(r["label"], []).append(r)

    table = []
    hdr = ("%-10s %4s | %9s %9s %6s | %8s %8s | %8s %8s | %-9s %-9s | %s"
           % ("mode", "c", "ours/s", "pebble/s", "ratio", "ours ms",
              "pebb ms", "ours p99", "pebb p99", "ours", "pebble",
              "nginx204/s"))
    print()
    print("acme-bench: ours vs pebble (ops/s; server CPU ms per op;"
          " p99 of the whole op in ms)")
    print(hdr)
    print("-" * len(hdr))
    for key in order:
        cell = cells[key]
        o = median_run(cell.get("ours", []))
        p = median_run(cell.get("pebble", []))
        n = median_run(cell.get("nginx", []))
        ratio = rate(o) / rate(p) if rate(p) > 0 else None
        row = {
            "mode": key[0], "concurrency": key[1],
            "ours_ops_per_s": rate(o), "pebble_ops_per_s": rate(p),
            "ratio": ratio,
            "ours_cpu_ms_per_op": cpu(o), "pebble_cpu_ms_per_op": cpu(p),
            "ours_p99_ms": p99(o), "pebble_p99_ms": p99(p),
            "ours_errors": o.get("errors", 0) if o else None,
            "pebble_errors": p.get("errors", 0) if p else None,
            "ours_stalled": bool(o and o.get("stalled")),
            "pebble_stalled": bool(p and p.get("stalled")),
            "nginx204_ops_per_s": rate(n) if n else None,
        }
        table.append(row)
        print("%-10s %4d | %9.1f %9.1f %6s | %8s %8s | %8s %8s | %-9s %-9s"
              " | %s"
              % (key[0], key[1], rate(o), rate(p),
                 "%.2f" % ratio if ratio is not None else "-",
                 fmt_ms(cpu(o)), fmt_ms(cpu(p)),
                 fmt_ms(p99(o)), fmt_ms(p99(p)),
                 note(o) or "ok", note(p) or "ok",
                 "%.0f (ours %.0f%%)" % (rate(n), 100 * rate(o) / rate(n))
                 if n and rate(n) else ""))

    print()
    print("machine HTTP ceiling (wrk -t2, HTTPS keep-alive):")
    for w in wrk:
        print("  %-30s c=%-3d %9.0f req/s  p99 %.2f ms%s"
              % (w["name"], w["concurrency"], w["rps"], w["p99_ms"],
                 "  (%d non-2xx)" % w["non2xx"] if w["non2xx"] else ""))
    base = [w for w in wrk if w["name"].startswith("nginx")]
    ours = [w for w in wrk if w["name"].startswith("ours")]
    if base and ours and base[0]["rps"]:
        print("  ours newNonce = %.0f%% of nginx return 204 (target >= 80%%)"
              % (100 * ours[0]["rps"] / base[0]["rps"]))
    if alerts:
        print()
        print("nginx error.log alerts/crashes during the bench: %d"
              % len(alerts))
        for a in alerts[:5]:
            print("  " + a)

    doc = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"nproc": os.cpu_count(), "kernel": platform.release(),
                    "loadavg_at_end": open("/proc/loadavg").read().split()[:3]},
        "wrk": wrk,
        "table": table,
        "runs": runs,
        "nginx_alerts": alerts,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print()
    print("load average at the end: %s (other work on the machine skews"
          " every figure)" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("results: %s" % out_path)


if __name__ == "__main__":
    main()
