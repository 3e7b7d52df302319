"""`rollout demo`: the whole rollout of examples/fleet-config's security patch against
the fleet simulator, on a temporary copy with a bare remote: wave by wave, each wave
judged by its Argo CD Applications (Synced to the pinned revision and Healthy), with a
degraded production cluster that makes the last wave fail and be reverted.

The demo drives the steps itself, with the pieces `rollout run` is made of (`advance`,
`revert`, the Argo CD verdict), so that it can show every Application change live;
rebasing it on `rollout.run.step` is possible but would hide the per-cluster view.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rollout.workspace import UsageError

# Installed from a wheel the examples are package data; in a checkout, examples/ beside it.
_BUNDLED = Path(__file__).resolve().parent / "examples" / "fleet-config"
EXAMPLE = _BUNDLED if _BUNDLED.is_dir() else Path(__file__).resolve().parent.parent / "examples" / "fleet-config"
POLICY = "security-patch"
FAULTY = "prod-us-east"
DEMO_IDENTITY = {"GIT_AUTHOR_NAME": "rollout demo", "GIT_AUTHOR_EMAIL": "demo@rollout.invalid",
                 "GIT_COMMITTER_NAME": "rollout demo", "GIT_COMMITTER_EMAIL": "demo@rollout.invalid"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def prepare(root: Path) -> tuple[Path, Path]:
    """A copy of the example with demo-length bakes, published to a bare remote."""
    if not EXAMPLE.is_dir():
        raise UsageError(f"rollout demo needs the example repo at {EXAMPLE}: this installation lacks it")
    source = root / "seed"
    shutil.copytree(EXAMPLE, source)
    policy = source / "rollouts" / f"{POLICY}.yaml"
    policy.write_text(re.sub(r"bake: \S+", "bake: 4s", policy.read_text()))
    _git(source, "init", "-q", "-b", "main")
    _git(source, "add", "-A")
    _git(source, "commit", "-qm", "fleet-config (demo: 4s bakes)")
    remote = root / "fleet-config.git"
    _git(root, "clone", "-q", "--bare", str(source), str(remote))
    work = root / "fleet-config"
    _git(root, "clone", "-q", str(remote), str(work))
    shutil.rmtree(source)
    return remote, work


class View:
    """A live rich view in a terminal; plain log lines elsewhere (CI, pipes)."""

    def __init__(self, live: bool):
        self.live = live
        self.log: list[str] = []
        self._live = None

    def __enter__(self):
        if self.live:
            from rich.live import Live

            self._live = Live(refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)

    def say(self, line: str) -> None:
        self.log.append(line)
        if not self.live:
            print(line, flush=True)

    def show(self, plan, state, apps: dict, verdicts: dict, now: float) -> None:
        if self._live is None:
            return
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        table = Table(title=f"rollout {plan.policy} → {plan.revision}: {state.overall}", title_justify="left")
        for column in ("#", "wave", "status", "bake", "cluster", "target", "sync", "health", "verdict"):
            table.add_column(column)
        colours = {"passed": "green", "pending": "yellow", "failed": "red"}
        for wave in plan.waves:
            ws = state.wave(wave.number)
            if ws.status == "advanced" and wave.bake_seconds:
                bake = ProgressBar(total=wave.bake_seconds, completed=wave.bake_seconds - ws.bake_remaining, width=10)
            else:
                bake = "✓" if ws.status == "passed" else "—"
            for i, cluster in enumerate(wave.clusters):
                app = apps.get(f"{cluster}-platform", {}).get("status", {})
                target = app.get("sync", {}).get("comparedTo", {}).get("source", {}).get("targetRevision", "?")
                verdict = verdicts.get(cluster)
                table.add_row(
                    str(wave.number) if i == 0 else "", wave.name if i == 0 else "", ws.status if i == 0 else "",
                    bake if i == 0 else "", cluster, target, app.get("sync", {}).get("status", "?"),
                    app.get("health", {}).get("status", "?"),
                    f"[{colours[verdict.state]}]{verdict.state}[/]" if verdict else "—",
                )
        self._live.update(Group(table, *self.log[-6:]))


def run(fault: bool = True, keep: bool = True, where: Path | None = None) -> int:
    """`where`: the folder to create the demo repo in (default: a new temp dir)."""
    for key, value in DEMO_IDENTITY.items():
        os.environ.setdefault(key, value)
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rollout-demo-", dir=where))
    try:
        return _run(root, fault, keep)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the partial demo repo is at {root / 'fleet-config'} "
              f"(delete {root} when done)", file=sys.stderr, flush=True)
        raise


def _run(root: Path, fault: bool, keep: bool) -> int:
    from kubernetes import client, config

    from waves.gates.argocd import judge
    from rollout.engine import advance, revert, status

    remote, work = prepare(root)
    kubeconfig = root / "kubeconfig"
    command = [sys.executable, "-m", "rollout", "simulate", "--repo", str(remote), "--kubeconfig-out", str(kubeconfig),
               "--poll", "1s", "--sync-delay", "1s", "--health-delay", "1s"]
    if fault:
        command += ["--fault", f"{FAULTY}:degraded@v1.4.2"]
    simulator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outcome = "complete"
    try:
        ready = simulator.stdout.readline()
        if not ready.startswith("ready"):
            simulator.kill()
            raise UsageError(f"the fleet simulator did not start: {simulator.stderr.read().strip()}")
        api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig), context="hub"))
        with View(sys.stdout.isatty()) as view:
            view.say(f"fleet simulator: {ready.split()[1]}" + (f" (fault: {FAULTY} degrades at v1.4.2)" if fault else ""))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                ws, state = status(work, POLICY)
                plan = ws.plan
                listed = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")
                apps = {item["metadata"]["name"]: item for item in listed["items"]}
                verdicts = {c: judge(apps[f"{c}-platform"], plan.revision)
                            for w in state.waves if w.status in ("advanced", "passed")
                            for c in plan.wave(w.number).clusters if f"{c}-platform" in apps}
                view.show(plan, state, apps, verdicts, time.time())
                failed = [w for w in state.waves if w.status in ("advanced", "passed")
                          and any(verdicts.get(c) and verdicts[c].state == "failed" for c in plan.wave(w.number).clusters)]
                if failed:
                    wave = failed[0]
                    bad = [c for c in plan.wave(wave.number).clusters if verdicts[c].state == "failed"]
                    reason = f"gate argocd failed on {', '.join(bad)}: {verdicts[bad[0]].reason}"
                    view.say(f"wave {wave.number} {wave.name}: {reason}")
                    done = revert(work, POLICY, str(wave.number), False, reason)
                    view.say(f"reverted wave {wave.number} {wave.name}: commit {done.changes[0].commit[:12]}")
                    outcome = "reverted"
                    break
                if state.overall == "complete" and all(v.state == "passed" for v in verdicts.values()):
                    break
                healthy = all(v.state == "passed" for v in verdicts.values())
                if healthy:
                    done = advance(work, POLICY)
                    for change in done.changes:
                        view.say(f"advanced wave {change.number} {change.name} -> {plan.revision}: "
                                 f"{', '.join(change.clusters)} ({change.commit[:12]})")
                time.sleep(0.3)
            else:
                outcome = "timed out"
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    print()
    print(_git(work, "log", "--format=%h %s", "--grep=^Rollout-Policy: ", "--reverse"), end="")
    from rollout.render.status import render

    ws, state = status(work, POLICY)
    render(ws.plan, state, "table")
    print(f"\nrollout {outcome}. The demo repo is kept at {work} (its remote: {remote}); try:\n"
          f"  cd {work} && git log --stat && rollout status {POLICY}")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if outcome in ("complete", "reverted") else 1
