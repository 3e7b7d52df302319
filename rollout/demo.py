"""`rollout demo`: the whole rollout of examples/fleet-config's security patch against
the fleet simulator, on a temporary copy with a bare remote, driven by the very step
`rollout run` takes: each wave judged by its Argo CD gate, its pass recorded in Git, the
next waves advanced; a degraded production cluster makes its wave fail and be reverted.
With `--delivery pull-request` the simulator also serves a GitHub forge and protects
main (a pre-receive hook refuses every push to it): each wave is a pull request the
forge merges once the run finds it mergeable (docs/delivery.md). `--example
rancher-fleet` plays examples/rancher-fleet instead: GitRepos pinned per cluster, each
wave judged by the fleet gate on the Fleet manager.

The live view shows every wave (the states `rollout status` and `run` use) and, below,
each cluster as its GitOps engine reports it (its Application on the hub, or its GitRepo
and BundleDeployment on the Fleet manager) with the gate's verdict on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rollout.workspace import UsageError



def example_dir(name: str) -> Path:
    """Installed from a wheel the examples are package data; in a checkout, examples/ beside it."""
    bundled = Path(__file__).resolve().parent / "examples" / name
    return bundled if bundled.is_dir() else Path(__file__).resolve().parent.parent / "examples" / name


@dataclass(frozen=True)
class Example:
    name: str
    policy: str
    faulty: str  # the cluster degraded at the revision (the last wave's)
    gate: str  # the gate's line in the policy, given `settle: 2s` for the demo's pace
    engine: str  # what the live view lists per cluster

    @property
    def path(self) -> Path:
        return example_dir(self.name)


EXAMPLES = {
    "fleet-config": Example("fleet-config", "security-patch", "prod-us-east", "argocd: {context: hub, namespace: argocd",
                            "Applications on the hub"),
    "rancher-fleet": Example("rancher-fleet", "guestbook", "prod-2", "fleet: {context: fleet-manager, namespace: "
                             "fleet-default", "GitRepos and BundleDeployments on the Fleet manager"),
}
EXAMPLE = EXAMPLES["fleet-config"].path  # the default example (its path: the packaging test's)
DEMO_IDENTITY = {"GIT_AUTHOR_NAME": "rollout demo", "GIT_AUTHOR_EMAIL": "demo@rollout.invalid",
                 "GIT_COMMITTER_NAME": "rollout demo", "GIT_COMMITTER_EMAIL": "demo@rollout.invalid"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def prepare(root: Path, example: Example = EXAMPLES["fleet-config"]) -> tuple[Path, Path]:
    """A copy of the example with demo-length bakes, published to a bare remote."""
    if not example.path.is_dir():
        raise UsageError(f"rollout demo needs the example repo at {example.path}: this installation lacks it")
    source = root / "seed"
    shutil.copytree(example.path, source)
    policy = source / "rollouts" / f"{example.policy}.yaml"
    text = re.sub(r"bake: \S+", "bake: 4s", policy.read_text())
    # Demo pace: a failure counts after 2s (the gates' default 10s or 30s), the deadline is 2 minutes.
    text = text.replace(example.gate + "}", example.gate + ", settle: 2s}")
    policy.write_text(re.sub(r"progressDeadline: \S+", "progressDeadline: 2m", text))
    _git(source, "init", "-q", "-b", "main")
    _git(source, "add", "-A")
    _git(source, "commit", "-qm", f"{example.name} (demo: 4s bakes, 2s settle)")
    remote = root / f"{example.name}.git"
    _git(root, "clone", "-q", "--bare", str(source), str(remote))
    work = root / example.name
    _git(root, "clone", "-q", str(remote), str(work))
    shutil.rmtree(source)
    return remote, work


def engine_rows(example: Example, kubeconfig: Path) -> dict[str, tuple[str, str, str]]:
    """cluster -> (revision, sync, health) as the cluster's GitOps engine shows them now:
    its Application on the hub (target, sync, health), or its GitRepo and
    BundleDeployment on the Fleet manager (spec.revision, status.commit, Fleet's state)."""
    from kubernetes import client, config

    if example.name != "rancher-fleet":
        api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig), context="hub"))
        listed = api.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")["items"]
        apps = {item["metadata"]["name"]: item.get("status", {}) for item in listed}
        return {name[:-len("-platform")]: (status.get("sync", {}).get("comparedTo", {}).get("source", {}).get(
            "targetRevision", "?"), status.get("sync", {}).get("status", "?"), status.get("health", {}).get("status", "?"))
            for name, status in apps.items() if name.endswith("-platform")}
    from waves.gates.fleet import CLUSTER_LABEL, REPO_LABEL, deployment_state, labels_of

    api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig), context="fleet-manager"))
    repos = {item["metadata"]["name"]: item for item in
             api.list_namespaced_custom_object("fleet.cattle.io", "v1alpha1", "fleet-default", "gitrepos")["items"]}
    rows = {}
    for bd in api.list_cluster_custom_object("fleet.cattle.io", "v1alpha1", "bundledeployments")["items"]:
        labels = labels_of(bd)
        repo = repos.get(labels.get(REPO_LABEL), {})
        rows[labels.get(CLUSTER_LABEL, "?")] = (str(repo.get("spec", {}).get("revision", "?")),
                                                str(repo.get("status", {}).get("commit", "?"))[:12],
                                                deployment_state(bd))
    return rows


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

    def show(self, result, rows: dict, example: Example = EXAMPLES["fleet-config"]) -> None:
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
        clusters = Table(title=example.engine, title_justify="left")
        columns = ("revision", "commit", "state") if example.name == "rancher-fleet" else ("target", "sync", "health")
        for column in ("cluster", *columns, "verdict"):
            clusters.add_column(column)
        for wave in result.plan.waves:
            for cluster in wave.clusters:
                check = checks.get(cluster)
                clusters.add_row(cluster, *rows.get(cluster, ("?", "?", "?")),
                                 f"[{COLOURS.get(check, 'white')}]{check}[/]" if check else "—")
        self._live.update(Group(waves, clusters))


def run(fault: bool = True, keep: bool = True, where: Path | None = None, delivery: str = "push",
        example: str = "fleet-config") -> int:
    """`where`: the folder to create the demo repo in (default: a new temp dir);
    `delivery`: push, or pull-request through the simulated GitHub; `example`: which
    example fleet (EXAMPLES)."""
    chosen = EXAMPLES[example]
    for key, value in DEMO_IDENTITY.items():
        os.environ.setdefault(key, value)
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rollout-demo-", dir=where))
    try:
        return _run(root, fault, keep, delivery, chosen)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the partial demo repo is at {root / chosen.name} "
              f"(delete {root} when done)", file=sys.stderr, flush=True)
        raise


def _run(root: Path, fault: bool, keep: bool, delivery: str, example: Example) -> int:
    from rollout.status import status
    from rollout.observers.kube import Kube
    from rollout.run import lines, step

    policy, faulty = example.policy, example.faulty
    remote, work = prepare(root, example)
    kubeconfig = root / "kubeconfig"
    command = [sys.executable, "-m", "rollout", "simulate", "--repo", str(remote), "--kubeconfig-out", str(kubeconfig),
               "--poll", "1s", "--sync-delay", "1s", "--health-delay", "1s"]
    if fault:
        command += ["--fault", f"{faulty}:degraded@v1.4.2"]
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
        kube = Kube(str(kubeconfig))
        with View(sys.stdout.isatty()) as view:
            view.say(f"fleet simulator: {ready.split()[1]}" + (f" (fault: {faulty} degrades at v1.4.2)" if fault else ""))
            if forge:
                view.say(f"forge: {os.environ['GITHUB_API_URL']} ({os.environ['GITHUB_REPOSITORY']}); main is protected: "
                         "every wave goes through a pull request")
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                result = step(work, policy, kube, push=True, delivery=delivery)
                for line in lines(result)[:-1]:
                    if not line.startswith("wave ") or "passed its gates" in line or ": gate failed" in line:
                        view.say(line)
                if view.live:
                    view.show(result, engine_rows(example, kubeconfig), example)
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

    ws, state = status(work, policy)
    render(ws.plan, state, "table")
    print(f"\nrollout {outcome}. The demo repo is kept at {work} (its remote: {remote}); try:\n"
          f"  cd {work} && git log --stat && rollout status {policy}")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if outcome in ("complete", "reverted") else 1
