"""`rollout demo`: the whole rollout of examples/fleet-config's security patch against
the fleet simulator, on a temporary copy with a bare remote, driven by the very step
`rollout run` takes: each wave judged by its Argo CD gate, its pass recorded in Git, the
next waves advanced; a degraded production cluster makes its wave fail and be reverted.
With `--delivery pull-request` the simulator also serves a GitHub forge and protects
main (a pre-receive hook refuses every push to it): each wave is a pull request the
forge merges once the run finds it mergeable (docs/delivery.md).

The live view shows every wave (the states `rollout status` and `run` use) and, below,
each cluster's Application as the hub reports it with the gate's verdict on it.
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
    text = re.sub(r"bake: \S+", "bake: 4s", policy.read_text())
    # Demo pace: a degraded health counts after 2s (default 10s), the deadline is 2 minutes.
    text = text.replace("argocd: {context: hub, namespace: argocd}", "argocd: {context: hub, namespace: argocd, settle: 2s}")
    policy.write_text(re.sub(r"progressDeadline: \S+", "progressDeadline: 2m", text))
    _git(source, "init", "-q", "-b", "main")
    _git(source, "add", "-A")
    _git(source, "commit", "-qm", "fleet-config (demo: 4s bakes, 2s settle)")
    remote = root / "fleet-config.git"
    _git(root, "clone", "-q", "--bare", str(source), str(remote))
    work = root / "fleet-config"
    _git(root, "clone", "-q", str(remote), str(work))
    shutil.rmtree(source)
    return remote, work


class View:
    """A live rich view in a terminal (log lines above the table); plain log lines
    elsewhere (CI, pipes)."""

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
        self.log.append(f"{time.strftime('%H:%M:%S')} {line}" if self.live else line)
        if not self.live:
            print(line, flush=True)

    def show(self, result, apps: dict) -> None:
        if self._live is None:
            return
        from rich.console import Group
        from rich.table import Table

        from rollout.render.status import COLOURS, live_view

        waves = live_view(result.plan, result.state, result.verdicts, self.log,
                          f"rollout {result.policy} → {result.revision}: {result.status}")
        checks = {c.cluster: c.state for v in result.verdicts for c in v.checks}
        checks.update({c: "passed" for w in result.state.waves if w.status == "passed"
                       for c in result.plan.wave(w.number).clusters})
        clusters = Table(title="Applications on the hub", title_justify="left")
        for column in ("cluster", "target", "sync", "health", "verdict"):
            clusters.add_column(column)
        for wave in result.plan.waves:
            for cluster in wave.clusters:
                app = apps.get(f"{cluster}-platform", {}).get("status", {})
                check = checks.get(cluster)
                clusters.add_row(cluster, app.get("sync", {}).get("comparedTo", {}).get("source", {}).get("targetRevision", "?"),
                                 app.get("sync", {}).get("status", "?"), app.get("health", {}).get("status", "?"),
                                 f"[{COLOURS.get(check, 'white')}]{check}[/]" if check else "—")
        self._live.update(Group(waves, clusters))


def run(fault: bool = True, keep: bool = True, where: Path | None = None, delivery: str = "push") -> int:
    """`where`: the folder to create the demo repo in (default: a new temp dir);
    `delivery`: push, or pull-request through the simulated GitHub."""
    for key, value in DEMO_IDENTITY.items():
        os.environ.setdefault(key, value)
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rollout-demo-", dir=where))
    try:
        return _run(root, fault, keep, delivery)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the partial demo repo is at {root / 'fleet-config'} "
              f"(delete {root} when done)", file=sys.stderr, flush=True)
        raise


def _run(root: Path, fault: bool, keep: bool, delivery: str) -> int:
    from kubernetes import client, config

    from rollout.status import status
    from rollout.observers.kube import Kube
    from rollout.run import lines, step

    remote, work = prepare(root)
    kubeconfig = root / "kubeconfig"
    command = [sys.executable, "-m", "rollout", "simulate", "--repo", str(remote), "--kubeconfig-out", str(kubeconfig),
               "--poll", "1s", "--sync-delay", "1s", "--health-delay", "1s"]
    if fault:
        command += ["--fault", f"{FAULTY}:degraded@v1.4.2"]
    forge = delivery == "pull-request"
    if forge:
        command += ["--scm", "github", "--protect"]
    simulator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outcome = "timed out"
    try:
        ready = simulator.stdout.readline()
        if not ready.startswith("ready"):
            simulator.kill()
            raise UsageError(f"the fleet simulator did not start: {simulator.stderr.read().strip()}")
        # The forge's CI variables (GITHUB_API_URL=... GITHUB_REPOSITORY=... GITHUB_TOKEN=...), as CI would set them.
        os.environ.update(word.split("=", 1) for word in ready.split()[2:] if "=" in word)
        api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig), context="hub"))
        kube = Kube(str(kubeconfig))
        with View(sys.stdout.isatty()) as view:
            view.say(f"fleet simulator: {ready.split()[1]}" + (f" (fault: {FAULTY} degrades at v1.4.2)" if fault else ""))
            if forge:
                view.say(f"forge: {os.environ['GITHUB_API_URL']} ({os.environ['GITHUB_REPOSITORY']}); main is protected: "
                         "every wave goes through a pull request")
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                result = step(work, POLICY, kube, push=True, delivery=delivery)
                for line in lines(result)[:-1]:
                    if not line.startswith("wave ") or "passed its gates" in line or ": gate failed" in line:
                        view.say(line)
                listed = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")
                view.show(result, {item["metadata"]["name"]: item for item in listed["items"]})
                if result.status in ("complete", "reverted", "failed", "halted"):
                    outcome = result.status
                    break
                time.sleep(0.5)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    print()
    _git(work, "pull", "-q", "--ff-only")
    print(_git(work, "log", "--format=%h %s", "--grep=^Rollout-Policy: ", "--reverse"), end="")
    from rollout.render.status import render

    ws, state = status(work, POLICY)
    render(ws.plan, state, "table")
    print(f"\nrollout {outcome}. The demo repo is kept at {work} (its remote: {remote}); try:\n"
          f"  cd {work} && git log --stat && rollout status {POLICY}")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if outcome in ("complete", "reverted") else 1
