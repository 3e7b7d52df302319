"""Timing helpers: medians over repeated runs (these machines are noisy)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
ROLLOUT = [str(Path(sys.executable).parent / "rollout")]


def timed(command: list[str], runs: int = 7, cwd: Path | None = None, env: dict | None = None) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - start)
    return out


def fmt(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.3f} s (min {min(samples):.3f}, n={len(samples)})"


def _busy() -> float:
    """CPUs busy (0..ncpu) over the last 0.5 s, from /proc/stat."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(0.5)
    total1, idle1 = sample()
    ticks = total1 - total0
    return (os.cpu_count() or 1) * (1 - (idle1 - idle0) / ticks) if ticks else 0.0


def wait_quiet(max_busy: float = 0.5, max_wait: float = 120.0) -> str:
    """Wait (up to `max_wait` s) until other processes use less than `max_busy` CPUs, so
    that a measurement does not share the cores with someone else's job. Returns a note
    for the report: the load average and whether the wait timed out."""
    if not Path("/proc/stat").exists():
        return "load: unknown"
    deadline = time.monotonic() + max_wait
    busy = _busy()
    while busy > max_busy and time.monotonic() < deadline:
        time.sleep(2)
        busy = _busy()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    note = f"load average {load}, {busy:.2f} CPUs busy"
    return note + (" (STILL BUSY: figures are noisy)" if busy > max_busy else "")
