"""Dashboard benchmark: how long each Grafana dashboard's InfluxQL takes on a week of Kashima-sized data.

    .venv/bin/python -m bench.bench_grafana --days 7 --repeat 5

Writes ``--days`` of the sample fleet's data at the default cadences (5 devices: heartbeats every 10 s,
polls every 60 s, two radios and one interface per device, a few outages with ap_event points) into a
fresh influxd 1.6 started on loopback, then runs every panel and annotation query of each dashboard
(variables set to "All", macros substituted like Grafana) one after the other, for the last 24 h and
the whole range. Grafana sends a dashboard's queries in parallel, so the sequential sum is an upper
bound of what a viewer waits for. Baseline, in the same run: one ``count()`` scan of the heartbeats over
the same range; ratio = dashboard / baseline. Median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from core.schema import Point
from core.store.influx_v1 import InfluxV1Sink
from tests.fixtures_influx import InfluxServer
from tests.test_grafana_queries import interpolate
from wifiwatch.grafana.dashboards import build_all

DEVICES = [("omachi", "omachi-router", "uplink"), ("omachi", "omachi-1", "ap"), ("omachi", "omachi-2", "ap"),
           ("omachi", "omachi-3", "ap"), ("chuo-kominkan", "kominkan-1", "ap")]
# Grafana: interval = range / max data points (about the panel width, ~1,000 px) rounded to a nice step
INTERVALS = {"24h": ("1m", 86_400), "all": ("10m", None)}


def generate(days: int, end_s: int, seed: int = 7) -> list[Point]:
    rng = random.Random(seed)
    start = end_s - days * 86_400
    outages = {(rng.choice(DEVICES[1:])[1], start + rng.randrange(days * 86_400)) for _ in range(days)}
    down = {(ap, t0 + k) for ap, t0 in outages for k in range(0, 900, 10)}  # 15 min each
    pts: list[Point] = []
    for t in range(start, end_s, 10):
        ns = t * 10**9
        for site, ap, role in DEVICES:
            ok = (ap, t - (t - start) % 10) not in down
            f: dict[str, float | bool | str] = {"reachable": ok, "loss_pct": 0.0 if ok else 100.0, "method": "icmp"}
            if ok:
                f["rtt_ms"] = 1.0 + rng.random()
            pts.append(Point("ap_ping", {"site": site, "ap": ap, "role": role}, f, ns))
            if t % 60:
                continue
            hour = (t // 3600 + 9) % 24  # JST: busy in the day
            clients = int(max(0, rng.gauss(12 if 9 <= hour <= 20 else 2, 3))) if role == "ap" and ok else 0
            pts.append(Point("ap_status", {"site": site, "ap": ap, "vendor": "generic", "role": role},
                             {"reachable": ok, "snmp_ok": ok, "clients": clients, "uptime_s": float(t - start),
                              "poll_ms": 20.0 + rng.random() * 5, **({} if ok else {"error": "no SNMP response"})},
                             ns))
            if ok:
                for radio, share in (("2g", 0.4), ("5g", 0.6)):
                    pts.append(Point("ap_clients", {"site": site, "ap": ap, "radio": radio},
                                     {"clients": int(clients * share)}, ns))
                pts.append(Point("ap_traffic", {"site": site, "ap": ap, "interface": "eth0"},
                                 {"rx_bps": clients * 2e5 * rng.random(), "tx_bps": clients * 5e4 * rng.random(),
                                  "oper_up": True}, ns))
    for ap, t0 in outages:
        site = next(s for s, a, _ in DEVICES if a == ap)
        for at, state, prev in ((t0 + 30, "down", "up"), (t0 + 910, "up", "down")):
            pts.append(Point("ap_event", {"site": site, "ap": ap, "kind": state},
                             {"state": state, "previous": prev, "severity": "critical", "incident_id": t0},
                             at * 10**9))
    return pts


def queries(dash: dict) -> list[str]:
    out = [t["query"] for p in dash["panels"] for t in p["targets"]]
    return out + [a["target"]["query"] for a in dash["annotations"]["list"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    end_s = int(time.time()) // 60 * 60
    with tempfile.TemporaryDirectory() as tmp:
        server = InfluxServer(Path(tmp))
        server.start()
        try:
            server.create_db("bench")
            t = time.perf_counter()
            pts = generate(args.days, end_s)
            sink = InfluxV1Sink(server.url, "bench")
            lines = [p.to_line() for p in pts]
            for i in range(0, len(lines), 5000):
                sink.send(lines[i:i + 5000])
            load_s = time.perf_counter() - t
            every = {"site": (["omachi", "chuo-kominkan"], True),
                     "ap": ([d[1] for d in DEVICES], True)}
            results: dict[str, dict[str, float | int]] = {}
            for rng_name, (interval, span) in INTERVALS.items():
                frm_ms = (end_s - (span or args.days * 86_400)) * 1000
                to_ms = end_s * 1000

                empty: set[str] = set()

                def run(qs: list[str], interval: str = interval, frm_ms: int = frm_ms, to_ms: int = to_ms,
                        empty: set[str] = empty) -> float:
                    t0 = time.perf_counter()
                    for q in qs:
                        res = server.query(interpolate(q, every, frm_ms, to_ms, interval), "bench")["results"][0]
                        assert "error" not in res, (q, res)
                        if not res.get("series"):
                            empty.add(q)
                    return time.perf_counter() - t0

                base_q = ['SELECT count("loss_pct") FROM "ap_ping" WHERE $timeFilter']
                base = statistics.median(run(base_q) for _ in range(args.repeat))
                results[f"baseline {rng_name}"] = {"ms": round(base * 1000, 1), "queries": 1}
                for name, dash in build_all().items():
                    qs = queries(dash)
                    s = statistics.median(run(qs) for _ in range(args.repeat))
                    results[f"{name} {rng_name}"] = {"ms": round(s * 1000, 1), "queries": len(qs),
                                                     "empty": len(empty & set(qs)), "ratio": round(s / base, 1)}
        finally:
            server.stop()
    print(json.dumps({"points": len(pts), "load_s": round(load_s, 1), "days": args.days, "repeat": args.repeat,
                      "python": platform.python_version(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
