"""`rollout demo`, as the README's first command runs it (no terminal: plain log lines)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from conftest import ROLLOUT, ROLLOUT_PROCESS

DEMO_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The demo, its repo made under tmp_path (pytest cleans it up, not the system temp dir).
    How long it takes (target < 60 s) is benchmarks/bench_demo.py's: no test here reads
    the clock, so a loaded machine fails none of them."""
    return subprocess.run([*ROLLOUT, "demo", "--dir", str(tmp_path), *args], capture_output=True, text=True,
                          timeout=120, env=DEMO_ENV)


def kept_repo(output: str) -> str:
    return re.search(r"The demo repo is kept at (\S+) ", output).group(1)


def test_demo_with_the_fault_shows_the_gate_fail_and_the_revert_commit(tmp_path):
    result = demo(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for wave in ("wave 1 canary", "wave 2 region-eu-west", "wave 3 region-us-east", "wave 4 production/1"):
        assert f"advanced {wave}: " in out and f"{wave} passed its gates: recorded " in out
    assert re.search(r"reverted wave 5 production/2: commit [0-9a-f]{12}: gate failed: 1 of 1 clusters failed "
                     r"\(maxFailures 0\); prod-us-east: argocd: prod-us-east-platform: health Degraded at v1.4.2", out)
    assert "wave 5 production/2 passed its gates" not in out
    assert "rollout(security-patch): revert wave 5 production/2 (v1.4.2)" in out
    assert "rollout reverted." in out
    repo = kept_repo(out)
    assert Path(repo).is_relative_to(tmp_path)
    body = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=repo, capture_output=True, text=True).stdout
    assert "Rollout-Action: revert" in body and "Rollout-Reason: gate failed: 1 of 1 clusters failed" in body
    status = subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=repo,
                            capture_output=True, text=True)
    waves = __import__("json").loads(status.stdout)["waves"]
    assert [w["status"] for w in waves] == ["passed", "passed", "passed", "passed", "reverted"]
    assert all(w["verifyCommit"] for w in waves[:4])


def test_demo_happy_path_completes(tmp_path):
    result = demo(tmp_path, "--no-fault")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rollout complete." in result.stdout and "revert" not in result.stdout


def test_demo_through_pull_requests_on_a_protected_main(tmp_path):
    """--delivery pull-request: the simulated GitHub merges one pull request per wave and
    one urgent one for the revert; main took no push (its hook refuses them)."""
    result = demo(tmp_path, "--delivery", "pull-request")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "main is protected: every wave goes through a pull request" in out
    for n, wave in enumerate(("wave 1 canary", "wave 2 region-eu-west", "wave 3 region-us-east", "wave 4 production/1",
                              "wave 5 production/2"), start=1):
        assert re.search(rf"proposed {wave}: .* in pull request #{n} http://\S+/pull/{n}\n", out), out
        assert f"merged pull request #{n} (advance of {wave}): " in out
    assert re.search(r"proposed the revert of wave 5 production/2: commit [0-9a-f]{12}: gate failed: .* in pull "
                     r"request #6 ", out)
    assert "merged pull request #6 (revert of wave 5 production/2): " in out
    assert "rollout reverted." in out
    repo = kept_repo(out)
    hook = Path(repo).parent / "fleet-config.git" / "hooks" / "pre-receive"
    assert hook.is_file()  # main was protected the whole time
    status = subprocess.run([*ROLLOUT, "status", "security-patch", "--format", "json"], cwd=repo,
                            capture_output=True, text=True)
    assert [w["status"] for w in __import__("json").loads(status.stdout)["waves"]] == ["passed"] * 4 + ["reverted"]


def test_ctrl_c_says_where_the_partial_demo_repo_is(tmp_path):
    # Ctrl-C as a terminal sends it: SIGINT at its default, which a run started in the
    # background of a non-interactive shell (a CI script's `cmd &`) would have ignored.
    proc = subprocess.Popen([*ROLLOUT_PROCESS, "demo", "--dir", str(tmp_path), "--no-fault"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=DEMO_ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:
            if line.startswith("advanced wave 1"):
                break
        assert proc.poll() is None, "the demo ended before wave 1 was out"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    partial = Path(re.search(r"the partial demo repo is at (\S+) ", err).group(1))
    assert partial.is_relative_to(tmp_path) and (partial / "rollouts" / "security-patch.yaml").is_file()
    assert "Traceback" not in err


def test_every_demo_example_is_prepared_at_demo_pace(tmp_path, monkeypatch):
    """`--example`: each example's copy gets 4s bakes, its gate a 2s settle and a 2-minute
    deadline (the demo's pace); the repo is published to a bare remote. The rancher-fleet
    demo itself plays the rollout test_gate_fleet runs end to end."""
    import yaml

    from rollout.demo import DEMO_IDENTITY, EXAMPLES, prepare

    for key, value in DEMO_IDENTITY.items():
        monkeypatch.setenv(key, value)
    for name, example in EXAMPLES.items():
        remote, work = prepare(tmp_path / name, example)
        policy = yaml.safe_load((work / "rollouts" / f"{example.policy}.yaml").read_text())["spec"]
        assert {w["bake"] for w in policy["waves"] if "bake" in w} == {"4s"}, name
        assert [next(iter(g.values()))["settle"] for g in policy["gates"]] == ["2s"], name
        assert policy["progressDeadline"] == "2m" and remote.name == f"{name}.git"
        assert any(c["name"] == example.faulty for c in yaml.safe_load(
            next(work.glob("**/clusters.yaml")).read_text())["clusters"]), name


def test_an_unknown_demo_example_is_refused_with_the_choices():
    result = subprocess.run([*ROLLOUT, "demo", "--example", "nope"], capture_output=True, text=True, env=DEMO_ENV)
    assert result.returncode == 2 and "fleet-config" in result.stderr and "rancher-fleet" in result.stderr
