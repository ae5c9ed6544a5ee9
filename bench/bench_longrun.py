"""Long run: the real daemon polls the simulated Kashima fleet for N minutes while APs go down and up at random.

    .venv/bin/python -m bench.bench_longrun [--minutes 30] [--seed 7] [--json out.json]

What it shows: that memory and open file descriptors stay flat over time (RSS and fd count of the daemon's
process sampled every 30 s) and that alerting stays exact under churn: every outage longer than the alert
threshold produces exactly one DOWN and one UP message on each channel (a real SMTP server, aiosmtpd, and
a real HTTP webhook, both on loopback), and every outage shorter than it produces none.

The random schedule keeps each outage clearly on one side of the threshold (default timings: 10 s heartbeat,
DOWN after 3 misses, UP after 2 answers): "long" outages last 75-180 s, "short" ones 2-6 s, which holds at
most two probes even when devices in doubt are re-probed half-way between heartbeats. A device's third
long outage never starts within 16 min of its first, so the flapping rule (more than 4 UP/DOWN changes
in 15 min) is never met and every long outage is expected to alert.
Only APs are unplugged (nft, as ``wifiwatch sim down`` does), never the uplink, so the "whole site down" and
"monitoring host lost" suppressions never apply. Exit status 1 if any expectation fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from aiosmtpd.controller import Controller

from core.config import parse_config
from core.paths import known_vendors
from core.secrets import SecretResolver
from tests.fixtures_alerts import Mailbox, free_port
from tests.fixtures_sim import SAMPLE, SECRET_ENV, readdress
from wifiwatch.sim.fleet import Fleet
from wifiwatch.sim.process import stop_process
from wifiwatch.sim.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
LONG_S = (75.0, 180.0)  # clearly above the ~30 s it takes to confirm DOWN (3 x 10 s heartbeats)
SHORT_S = (2.0, 6.0)  # at most two probes fall inside (heartbeats, or half-interval re-probes): never 3 misses
GAP_S = (45.0, 150.0)  # up time between outages: UP is confirmed (2 heartbeats) before the next one
FLAP_SPACING_S = 960.0  # between a device's long outage i and i+2 (flap window 900 s, > 4 changes)
WARMUP_S = 40.0  # every device confirmed UP before the first unplug
TAIL_S = 90.0  # no outage in the last 90 s: the last recovery is confirmed and delivered


@dataclass(frozen=True)
class Outage:
    ap: str
    start: float  # seconds after the daemon started
    end: float

    @property
    def long(self) -> bool:
        return self.end - self.start > 60.0


def schedule(aps: list[str], total_s: float, rng: random.Random, p_long: float = 0.4) -> list[Outage]:
    """Random outages per AP: each clearly long or clearly short, never enough long ones to count as flapping."""
    out: list[Outage] = []
    for ap in aps:
        t = WARMUP_S + rng.uniform(0, 60)
        long_starts: list[float] = []
        while True:
            want_long = rng.random() < p_long
            if want_long and len(long_starts) >= 2 and t - long_starts[-2] < FLAP_SPACING_S:
                want_long = False
            dur = rng.uniform(*LONG_S) if want_long else rng.uniform(*SHORT_S)
            if t + dur > total_s - TAIL_S:
                break
            out.append(Outage(ap, t, t + dur))
            if want_long:
                long_starts.append(t)
            t += dur + rng.uniform(*GAP_S)
    return sorted(out, key=lambda o: o.start)


def config_text(tmp: Path, smtp_port: int, hook_url: str) -> str:
    """The Kashima sample on fresh loopback addresses, with the default timings and two alert channels."""
    doc = tomlkit.parse(readdress(SAMPLE.read_text(encoding="utf-8"), tmp, tmp / "store.sqlite3"))
    doc.pop("maintenance", None)  # a weekly window must not silence part of the run
    doc["reports"]["dir"] = str(tmp / "reports")  # type: ignore[index]
    chans = tomlkit.aot()
    chans.append(tomlkit.item({"name": "duty-mail", "type": "email", "smtp_host": "127.0.0.1",
                               "smtp_port": smtp_port, "starttls": False, "sender": "wifiwatch@example.lg.jp",
                               "to": ["duty@example.lg.jp"], "min_severity": "info"}))
    os.environ["WIFIWATCH_LONGRUN_HOOK_URL"] = hook_url  # webhook URLs are secrets: by reference only
    chans.append(tomlkit.item({"name": "duty-hook", "type": "webhook", "url": "env:WIFIWATCH_LONGRUN_HOOK_URL",
                               "min_severity": "info"}))
    doc["alerts"]["channels"] = chans  # type: ignore[index]
    return tomlkit.dumps(doc)


def sample_proc(pid: int) -> tuple[float, int]:
    """(RSS in MB, open file descriptors) of a process, from /proc."""
    rss_kb = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return rss_kb / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))


def count_messages(mail: Mailbox, hook: WebhookReceiver) -> dict[str, Counter[tuple[str, str]]]:
    """(kind, device id) -> number of messages, per channel."""
    by_mail: Counter[tuple[str, str]] = Counter()
    for m in list(mail.messages):
        body = m.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        dev = "-"
        for line in text.splitlines():
            if line.startswith("機器:") and line.endswith(")"):
                dev = line.rsplit("(", 1)[1].rstrip(")")
        by_mail[(str(m["X-Wifiwatch-Kind"]), dev)] += 1
    by_hook: Counter[tuple[str, str]] = Counter(
        (str(p.get("kind")), str(p.get("device_id"))) for p in hook.bodies)
    return {"email": by_mail, "webhook": by_hook}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sample-s", type=float, default=30.0, help="seconds between RSS/fd samples")
    ap.add_argument("--json", type=Path, help="write the samples, schedule and counts here")
    args = ap.parse_args()
    total_s = args.minutes * 60.0
    for k in SECRET_ENV:
        os.environ[k] = secrets.token_hex(12)
    mail, hook = Mailbox(), WebhookReceiver()
    smtp_port = free_port()
    smtp = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    loads: list[str] = []
    samples: list[tuple[float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="wifiwatch-longrun-") as d:
        tmp = Path(d)
        cfg = tmp / "sites.toml"
        cfg.write_text(config_text(tmp, smtp_port, hook.url), encoding="utf-8")
        inv = parse_config(cfg.read_text(encoding="utf-8"), str(cfg), known_vendors())
        aps = [a.id for _, a in inv.aps()]
        plan = schedule(aps, total_s, random.Random(args.seed))
        fleet = Fleet(inv, SecretResolver(), tmp / "sim")
        fleet.start()
        log_path = tmp / "daemon.log"
        with log_path.open("wb") as log:
            daemon = subprocess.Popen([sys.executable, "-m", "wifiwatch.cli", "--log-level", "info", "run",
                                       "--config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        t0 = time.monotonic()
        how: set[str] = set()
        try:
            events = sorted([(o.start, "down", o.ap) for o in plan] + [(o.end, "up", o.ap) for o in plan])
            next_sample = 0.0
            while True:
                now = time.monotonic() - t0
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited early (code {daemon.returncode}); log:\n"
                                     + log_path.read_text(encoding="utf-8", errors="replace")[-3000:])
                while events and events[0][0] <= now:
                    _, what, aid = events.pop(0)
                    if what == "down":
                        how.add(fleet.down(aid))
                    else:
                        fleet.up(aid)
                if now >= next_sample:
                    rss, fds = sample_proc(daemon.pid)
                    samples.append((now, rss, fds))
                    with open("/proc/loadavg", encoding="ascii") as f:
                        loads.append(f.read().strip())
                    print(f"{now / 60:6.1f} min  RSS {rss:6.1f} MB  fds {fds:3d}  "
                          f"messages {len(mail.messages)}/{len(hook.messages)}", flush=True)
                    next_sample += args.sample_s
                if now >= total_s and not events:
                    break
                time.sleep(0.2)
            rss, fds = sample_proc(daemon.pid)
            samples.append((time.monotonic() - t0, rss, fds))
        finally:
            stop_process(daemon, 15)
            fleet.stop()
            smtp.stop()
            hook.close()
        log_text = log_path.read_text(encoding="utf-8", errors="replace")

    counts = count_messages(mail, hook)
    long_by_ap = Counter(o.ap for o in plan if o.long)
    problems: list[str] = []
    for channel, got in counts.items():
        for aid in aps:
            for kind in ("down", "up"):
                if got[(kind, aid)] != long_by_ap[aid]:
                    problems.append(f"{channel}: {aid}: {got[(kind, aid)]} {kind} messages, "
                                    f"expected {long_by_ap[aid]} (one per long outage)")
        other = {k: v for k, v in got.items() if k[0] not in ("down", "up")}
        if other:
            problems.append(f"{channel}: unexpected messages: {dict(other)}")
    errors = [line for line in log_text.splitlines() if "Traceback" in line or "level=error" in line]
    warnings = Counter(line.split("msg=", 1)[1].split('" ', 1)[0] + '"' for line in log_text.splitlines()
                       if "level=warning" in line and "msg=" in line)
    n_long = sum(1 for o in plan if o.long)
    summary = {
        "minutes": args.minutes, "seed": args.seed, "unplug": sorted(how), "aps": aps,
        "outages": len(plan), "long": n_long, "short": len(plan) - n_long,
        "expected_down": n_long, "expected_up": n_long,
        "email": {f"{k}:{a}": v for (k, a), v in sorted(counts["email"].items())},
        "webhook": {f"{k}:{a}": v for (k, a), v in sorted(counts["webhook"].items())},
        "log_error_lines": len(errors), "log_warnings": dict(warnings), "problems": problems,
        "loadavg_first_last": [loads[0], loads[-1]] if loads else [],
    }
    print()
    print("| t (min) | RSS (MB) | open fds |")
    print("|---:|---:|---:|")
    for t, rss, fds in samples:
        print(f"| {t / 60:.1f} | {rss:.1f} | {fds} |")
    print()
    print("| AP | long outages | short outages | DOWN e-mail | UP e-mail | DOWN webhook | UP webhook |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for aid in aps:
        short = sum(1 for o in plan if o.ap == aid and not o.long)
        print(f"| {aid} | {long_by_ap[aid]} | {short} | {counts['email'][('down', aid)]} | "
              f"{counts['email'][('up', aid)]} | {counts['webhook'][('down', aid)]} | "
              f"{counts['webhook'][('up', aid)]} |")
    print()
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    for line in errors[:20]:
        print("log:", line)
    if args.json:
        args.json.write_text(json.dumps({**summary, "samples": samples, "loadavg": loads,
                                         "schedule": [o.__dict__ for o in plan]}, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("OK: every long outage produced exactly one DOWN and one UP message per channel, short ones none")


if __name__ == "__main__":
    main()
