"""Stopping the child processes the demo, benchmarks and tests start (daemon, agents, servers)."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``: a child that hangs on shutdown must not outlive the run."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
