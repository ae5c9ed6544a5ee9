"""Issue 26 points 3 and 4: what the session store in SQLite costs a request, and what a hostile tile archive costs.

    .venv/bin/python -m bench.bench_sessions_tiles --runs 200

Sessions: the console as the daemon serves it (Litestar on uvicorn in a thread, loopback), logged in with httpx;
each request loads and saves its session. The same app with Litestar's in-memory store (what the console used
before) is the baseline, in the same run; ``GET /healthz`` (no session work) is the floor.

Tiles: each hostile archive of tests/test_hostile_lan_tiles.py, opened and unpacked in a fresh Python process
(so its peak RSS is its own), against a good archive of 1,089 tiles (about the Kashima sample's size) as the baseline.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _stats(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"median_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1]}


def sessions(runs: int) -> None:
    """Both apps up at once and timed in turn, request by request, so a change in the machine's load hits both."""
    from litestar.stores.memory import MemoryStore

    from collector.http import StatusServer
    from console.app import create_app
    from console.context import open_context
    from core.config import parse_config
    from tests.test_hostile_lan_sessions import BASE, PW

    labels = ("sqlite (shipped)", "memory (before)")
    with tempfile.TemporaryDirectory() as tmp:
        inv = parse_config(BASE.format(store=f"{tmp}/s.sqlite3", reports=f"{tmp}/r", console=""), "b.toml",
                           {"generic"})
        clients, servers = {}, []
        for label in labels:
            ctx = open_context(inv, None)
            if ctx.users.get("bench") is None:
                ctx.users.add("bench", PW, "viewer")
            app = create_app(ctx)
            if label.startswith("memory"):
                app.stores._stores["sessions"] = MemoryStore()  # noqa: SLF001 - the old store, for the baseline
            srv = StatusServer("127.0.0.1", 0, lambda: {"ok": True}, app=app)
            srv.start()
            servers.append(srv)
            c = httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=10)
            tok = re.search(r'name="_csrf_token" value="([^"]+)"', c.get("/login").text)
            assert tok
            assert c.post("/login", data={"user": "bench", "password": PW, "_csrf_token": tok[1]}).status_code == 303
            for _ in range(20):
                c.get("/")
            clients[label] = c
        whats = {"healthz (logged in: the session is loaded and saved)": "/healthz",
                 "login redirect (guard + session only)": "/login", "状況 GET /": "/"}
        print("| request | store | median | p95 | ratio of medians (sqlite / memory) |")
        print("|---|---|---|---|---|")
        for what, path in whats.items():
            times: dict[str, list[float]] = {label: [] for label in labels}
            for _ in range(runs):
                for label in labels:
                    t0 = time.perf_counter()
                    assert clients[label].get(path).status_code in (200, 303 if path == "/login" else 200)
                    times[label].append((time.perf_counter() - t0) * 1000)
            stats = {label: _stats(t) for label, t in times.items()}
            for label in labels:
                ratio = stats[label]["median_ms"] / stats[labels[1]]["median_ms"]
                print(f"| {what} | {label} | {stats[label]['median_ms']:.1f} ms | {stats[label]['p95_ms']:.1f} ms | "
                      f"{ratio:.2f}× |")
        for c in clients.values():
            c.close()
        for srv in servers:
            srv.stop()


def one_archive(path: str) -> None:
    """In a child process: open and unpack ``path``; print what it took."""
    from maps.tiles import TileCache, TileError

    t0 = time.perf_counter()
    try:
        with TileCache(Path(path)) as cache:
            n = cache.extract(Path(path).with_name("out"))
        outcome = f"unpacked {n:,} tiles"
    except TileError as e:
        outcome = "refused: " + str(e).split(": ", 1)[-1]
    ms = (time.perf_counter() - t0) * 1000
    hwm = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())  # its own peak (not the parent's)
    print(json.dumps({"ms": ms, "rss_mb": int(hwm[1]) / 1024 if hwm else -1, "outcome": outcome}))


def tiles() -> None:
    from maps.tiles import Band, write_archive
    from tests.test_hostile_lan_tiles import HOSTILE, META

    print("| archive | bytes | open + unpack | peak RSS of the process | outcome |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, Path]] = []
        good = Path(tmp) / "good" / "a.pmtiles"
        good.parent.mkdir()
        write_archive(good, [(17, x, y, b"\x89PNG" + bytes([x % 256, y % 256]) * 2000)
                             for x in range(116_000, 116_033) for y in range(51_000, 51_033)],
                      [Band(17, 17, (138, 35, 139, 36))], META)
        cases.append(("good, 1,089 tiles of 4 KB (baseline)", good))
        for kind, make in sorted(HOSTILE.items()):
            d = Path(tmp) / kind.replace(" ", "_")
            d.mkdir()
            cases.append((kind, make(d / "a.pmtiles")))
        for kind, path in cases:
            r = subprocess.run([sys.executable, "-m", "bench.bench_sessions_tiles", "--one-archive", str(path)],
                               capture_output=True, text=True, cwd=ROOT, timeout=600)
            got = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"| {kind} | {path.stat().st_size:,} | {got['ms']:.1f} ms | {got['rss_mb']:.0f} MB | "
                  f"{got['outcome']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--one-archive", help=argparse.SUPPRESS)
    ap.add_argument("--only", choices=("sessions", "tiles"))
    a = ap.parse_args()
    if a.one_archive:
        one_archive(a.one_archive)
        return
    if a.only != "tiles":
        sessions(a.runs)
    if a.only != "sessions":
        tiles()


if __name__ == "__main__":
    main()
