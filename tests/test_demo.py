"""`wifiwatch demo` end to end, and the secrets of that run appear in none of its outputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from collector.icmp import raw_sockets_permitted

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"WIFIWATCH_SNMP_AUTH_KEY": "demo-auth-SECRET-7f3a", "WIFIWATCH_SNMP_PRIV_KEY": "demo-priv-SECRET-91bc",
           "WIFIWATCH_SNMP_COMMUNITY": "demo-community-SECRET-2d4e"}


@pytest.mark.skipif(not raw_sockets_permitted(), reason="the demo unplugs an AP with nftables (root)")
def test_demo_outage_alerts_outputs_and_no_secret_leaks(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    r = subprocess.run([sys.executable, "-m", "wifiwatch.cli", "demo", "--minutes", "0.6", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=240, env={**os.environ, **SECRETS})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "omachi-2: taken down" in r.stdout and "omachi-2: brought back" in r.stdout
    assert re.search(r"web console: http://127\.0\.0\.1:\d+/  user: demo  password: \S{12,}", r.stdout), r.stdout
    alerts = json.loads((out / "alerts.json").read_text(encoding="utf-8"))
    assert [a["body"]["kind"] for a in alerts] == ["down", "up"]
    assert alerts[1]["body"]["subject"] == "【復旧】大町通り 大町通り 2 (中央)"
    assert (out / "map.html").exists() and "cdn.jsdelivr" not in (out / "map.html").read_text(encoding="utf-8")
    assert json.loads((out / "ranking.json").read_text(encoding="utf-8"))["candidates"][0]["rank"] == 1
    assert len(list((out / "reports").glob("monthly-*-ja.html"))) == 1
    # the demo's console lists them on 報告 (it reads [reports] dir of the demo's config)
    from console.pages.reports import listing, reports_root
    from core.config import parse_config

    cfg = out / "demo-config.toml"
    shown = listing(reports_root(parse_config(cfg.read_text(encoding="utf-8"), str(cfg))))
    assert any(f["rel"].startswith("monthly-") and f["kind"] == "html" for f in shown), shown
    status = (out / "status.csv").read_text(encoding="utf-8-sig")
    assert status.count(",up,") == 5, status
    files = [p for p in out.rglob("*")]
    texts = [r.stdout, r.stderr, *(str(p) for p in files)]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in files if p.is_file()]
    for value in SECRETS.values():
        assert not any(value in t for t in texts), f"secret {value[:9]}… leaked"
