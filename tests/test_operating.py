"""Operating controls end to end (docs/operating.md): change windows on advance and run,
pause / resume / emergency stop as commits (a plain `git revert` lifts a pause), and
notifications delivered over real HTTP to a receiver in this test."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from calendar import timegm
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ROLLOUT, SEED_POLICY, make_seed_repo
from test_engine import GIT_ENV, git, git_identity  # noqa: F401 - git_identity: the autouse fixture


def _winter_monday() -> int:
    """09:00 UTC (10:00 in Berlin: no summer time) on a Monday in December to February that
    is still ahead: the rollout's commits carry the real clock, so a ROLLOUT_NOW in their
    past would leave every bake running (a fixed date here broke once it had gone by)."""
    import datetime

    day = datetime.date.today() + datetime.timedelta(days=7)
    while day.weekday() != 0 or day.month not in (12, 1, 2):
        day += datetime.timedelta(days=1)
    return timegm((day.year, day.month, day.day, 9, 0, 0))


MONDAY = _winter_monday()  # 10:00 in Berlin
SATURDAY = MONDAY - 2 * 86400 + 3 * 3600  # 13:00 in Berlin
BERLIN_BUSINESS_HOURS = """\
  windows:
    - kind: allow
      schedule: "0 9 * * 1-5"
      duration: 8h
      timeZone: Europe/Berlin
"""


def rollout(cwd: Path, *args: str, now: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    extra = {"COLUMNS": "200", **({"ROLLOUT_NOW": str(now)} if now is not None else {}), **(env or {})}
    return subprocess.run([*ROLLOUT, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **extra},
                          timeout=60)


def published(tmp: Path, policy: str = SEED_POLICY) -> tuple[Path, Path]:
    """The seed fleet with `policy`, published to a bare remote; a clone to work in."""
    source = make_seed_repo(tmp / "source", policy).root
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet-config")
    remote = tmp / "remote.git"
    git(tmp, "clone", "-q", "--bare", str(source), str(remote))
    work = tmp / "work"
    git(tmp, "clone", "-q", str(remote), str(work))
    return remote, work


def subjects(remote: Path) -> list[str]:
    return git(remote, "log", "--format=%s", "--reverse", "main").splitlines()[1:]


class Receiver:
    """A real HTTP server in a thread: records each POST; answers from `codes` (then 200)."""

    def __init__(self, codes: list[int] | None = None):
        self.requests: list[dict] = []
        self.codes = list(codes or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, path: str) -> list[dict]:
        return [r["json"] for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


# --- change windows -------------------------------------------------------------------


def test_outside_the_window_run_waits_advance_refuses_and_force_is_recorded(tmp_path):
    remote, work = published(tmp_path, SEED_POLICY + BERLIN_BUSINESS_HOURS)
    waiting = rollout(work, "run", "security-patch", now=SATURDAY)
    assert waiting.returncode == 0, waiting.stderr
    day = time.strftime("%Y-%m-%d", time.gmtime(MONDAY))
    assert ("wave 1 canary: waiting for window: outside its change window (no allow window is open); next opening "
            f"{day} 08:00 UTC ({day} 09:00 Europe/Berlin)") in waiting.stdout
    assert waiting.stdout.strip().endswith("security-patch -> v1.4.2: waiting")
    refused = rollout(work, "advance", "security-patch", "--wave", "1", now=SATURDAY)
    assert refused.returncode == 1 and "outside its change window" in refused.stderr
    assert subjects(remote) == []
    status = rollout(work, "status", "security-patch", now=SATURDAY)
    assert f"wave 1 canary: next window opens {day} 08:00 UTC ({day} 09:00 Europe/Berlin)" in status.stdout
    forced = rollout(work, "advance", "security-patch", "--wave", "1", "--force", now=SATURDAY)
    assert forced.returncode == 0, forced.stderr
    body = git(remote, "log", "-1", "--format=%B", "main")
    assert "Rollout-Forced: window" in body and "Forced past: outside its change window" in body


def test_inside_the_window_run_advances(tmp_path):
    remote, work = published(tmp_path, SEED_POLICY + BERLIN_BUSINESS_HOURS)
    result = rollout(work, "run", "security-patch", now=MONDAY)
    assert result.returncode == 0, result.stderr
    assert subjects(remote) == ["rollout(security-patch): wave 1 canary -> v1.4.2"]


def test_a_templated_zone_that_mixes_zones_in_a_wave_is_invalid_naming_the_clusters(tmp_path):
    policy = SEED_POLICY + BERLIN_BUSINESS_HOURS.replace("Europe/Berlin", '"{labels.region}"')
    repo = make_seed_repo(tmp_path / "fleet", policy, clusters={
        "dev-a": {"environment": "dev", "region": "Europe.Dublin"},
        "dev-b": {"environment": "dev", "region": "America.New_York"},
        "staging-a": {"environment": "staging", "region": "Europe.Dublin"},
        "prod-a": {"environment": "production", "region": "Asia.Tokyo"},
    })
    result = rollout(repo.root, "validate", "security-patch")
    assert result.returncode == 2
    assert ("rollouts/security-patch.yaml:31: spec.windows[0].timeZone: timeZone '{labels.region}' mixes time zones in one wave "
            "(America/New_York: dev-b; Europe/Dublin: dev-a)") in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1  # region-* and production each have one zone


# --- pause, resume, emergency stop ------------------------------------------------------


def test_pause_holds_run_and_advance_and_a_plain_git_revert_lifts_it(tmp_path):
    remote, work = published(tmp_path)
    paused = rollout(work, "pause", "security-patch", "--reason", "incident 4711", "--by", "alice")
    assert paused.returncode == 0, paused.stderr
    body = git(remote, "log", "-1", "--format=%B", "main")
    assert "Rollout-Action: pause" in body and "Rollout-Reason: incident 4711" in body
    assert "Rollout-Paused-By: alice" in body
    again = rollout(work, "pause", "security-patch", "--reason", "twice")
    assert again.returncode == 0 and "already paused" in again.stdout
    run = rollout(work, "run", "security-patch")
    assert run.returncode == 0 and run.stdout.strip().endswith(": paused")
    assert "paused security-patch by alice since" in run.stdout and "incident 4711" in run.stdout
    advance = rollout(work, "advance", "security-patch", "--wave", "1", "--force")
    assert advance.returncode == 1 and "paused security-patch by alice" in advance.stderr
    status = rollout(work, "status", "security-patch", "--format", "json")
    (pause,) = json.loads(status.stdout)["paused"]
    assert (pause["by"], pause["reason"], pause["policy"]) == ("alice", "incident 4711", "security-patch")
    assert subjects(remote) == ["rollout(security-patch): pause security-patch: incident 4711"]

    git(work, "pull", "-q")
    git(work, "revert", "--no-edit", "HEAD")
    git(work, "push", "-q")
    assert rollout(work, "run", "security-patch").returncode == 0
    assert subjects(remote)[-1] == "rollout(security-patch): wave 1 canary -> v1.4.2"


def test_emergency_stop_holds_every_policy_until_resume_all(tmp_path):
    remote, work = published(tmp_path)
    stop = rollout(work, "pause", "--all", "--reason", "freeze")
    assert stop.returncode == 0, stop.stderr
    assert subjects(remote) == ["rollout(all): pause every policy: freeze"]
    assert "Rollout-Policy: *" in git(remote, "log", "-1", "--format=%B", "main")
    assert rollout(work, "run", "security-patch").stdout.strip().endswith(": paused")
    own = rollout(work, "resume", "security-patch")
    assert own.returncode == 1 and "`rollout resume --all` lifts it" in own.stderr
    assert rollout(work, "resume", "--all").returncode == 0
    assert rollout(work, "run", "security-patch").returncode == 0
    assert subjects(remote)[-1] == "rollout(security-patch): wave 1 canary -> v1.4.2"


def test_a_pause_never_blocks_a_revert(tmp_path):
    remote, work = published(tmp_path)
    assert rollout(work, "advance", "security-patch", "--wave", "1").returncode == 0
    assert rollout(work, "pause", "security-patch", "--reason", "looks wrong").returncode == 0
    reverted = rollout(work, "revert", "security-patch", "--wave", "1", "--reason", "broken")
    assert reverted.returncode == 0, reverted.stderr
    assert subjects(remote)[-1] == "rollout(security-patch): revert wave 1 canary (v1.4.2)"


def test_pause_needs_a_reason_and_one_target(tmp_path):
    _, work = published(tmp_path)
    assert rollout(work, "pause", "security-patch").returncode == 2
    both = rollout(work, "pause", "security-patch", "--all", "--reason", "x")
    assert both.returncode == 2 and "exactly one of POLICY and --all" in both.stderr


# --- notifications --------------------------------------------------------------------


def notify_policy(url: str) -> str:
    return SEED_POLICY + f"""\
  notify:
    - webhook:
        urlFrom: {{env: HOOK_URL}}
        headersFrom: {{Authorization: {{env: HOOK_TOKEN}}}}
      linkTemplate: "https://git.example.com/org/fleet/commit/{{commit}}"
    - slack: {{urlFrom: {{env: SLACK_WEBHOOK_URL}}}}
      events: [advanced, paused, reverted]
"""


def test_events_reach_webhook_and_slack_once_each_and_secrets_stay_secret(tmp_path, receiver):
    remote, work = published(tmp_path, notify_policy(receiver.url))
    secrets = {"HOOK_URL": receiver.url + "/hook/s3cr3t-path", "HOOK_TOKEN": "Bearer t0ken",
               "SLACK_WEBHOOK_URL": receiver.url + "/slack/T000/B000/xoxsecret"}
    first = rollout(work, "run", "security-patch", env=secrets)
    assert first.returncode == 0, first.stderr
    commit = git(remote, "rev-parse", "main").strip()
    (hook,) = receiver.events("/hook/s3cr3t-path")
    assert hook == {"event": "advanced", "policy": "security-patch", "revision": "v1.4.2",
                    "wave": {"number": 1, "name": "canary"},
                    "clusters": {"count": 2, "first": ["dev-eu-west", "dev-us-east"]}, "commit": commit, "reason": "",
                    "link": f"https://git.example.com/org/fleet/commit/{commit}"}
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer t0ken"
    (slack,) = receiver.events("/slack/T000/B000/xoxsecret")
    assert slack["text"] == "rollout security-patch -> v1.4.2: wave 1 canary advanced"
    assert slack["blocks"][0]["type"] == "section" and "2 clusters: dev-eu-west, dev-us-east" in \
        slack["blocks"][0]["text"]["text"]
    assert rollout(work, "run", "security-patch", env=secrets).returncode == 0  # nothing new: nothing sent
    assert len(receiver.requests) == 2
    rollout(work, "pause", "security-patch", "--reason", "incident 4711", env=secrets)
    assert [e["event"] for e in receiver.events("/hook/s3cr3t-path")] == ["advanced", "paused"]
    assert receiver.events("/hook/s3cr3t-path")[1]["reason"] == "incident 4711"
    assert [e["text"] for e in receiver.events("/slack/T000/B000/xoxsecret")][1] == "rollout security-patch -> v1.4.2: paused"
    for result in (first,):
        assert "s3cr3t" not in result.stdout + result.stderr and "xoxsecret" not in result.stdout + result.stderr


def test_a_failing_sink_is_retried_then_a_warning_never_a_failed_rollout(tmp_path):
    flaky = Receiver(codes=[500, 503])
    try:
        remote, work = published(tmp_path, notify_policy(flaky.url))
        env = {"HOOK_URL": flaky.url + "/hook", "HOOK_TOKEN": "x",
               "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/slack/xoxsecret"}  # the discard port: refused
        result = rollout(work, "run", "security-patch", env=env)
        assert result.returncode == 0 and subjects(remote) == ["rollout(security-patch): wave 1 canary -> v1.4.2"]
        assert len(flaky.events("/hook")) == 3  # 500, 503, then delivered
        assert "warning: notify[1] slack: advanced not sent: Connection refused (after 3 attempts)" in result.stderr
        assert "warning: notify[0]" not in result.stderr
        assert "xoxsecret" not in result.stdout + result.stderr
    finally:
        flaky.close()


def test_a_missing_secret_is_a_warning_naming_the_variable(tmp_path, receiver):
    _, work = published(tmp_path, notify_policy(receiver.url))
    result = rollout(work, "run", "security-patch", env={"HOOK_TOKEN": "x", "SLACK_WEBHOOK_URL": receiver.url})
    assert result.returncode == 0
    assert "warning: notify[0] webhook: advanced not sent: webhook urlFrom: environment variable HOOK_URL is not set" \
        in result.stderr
    assert [e["text"] for e in receiver.events("/")] == ["rollout security-patch -> v1.4.2: wave 1 canary advanced"]


# --- failure budget -------------------------------------------------------------------


def test_a_wave_within_max_failures_goes_on_with_a_warning_per_failed_cluster_and_a_failed_event(tmp_path, receiver):
    import re
    import time

    pytest.importorskip("kubernetes")
    from test_simulator import Running
    from test_simulator import published as example

    def budget(text: str) -> str:
        text = re.sub(r"bake: \S+", "bake: 1s", text)
        text = re.sub(r"(?m)^  onFailure: revert.*$", "  onFailure: revert\n  maxFailures: 1", text)
        assert "maxFailures: 1" in text
        return text + "  notify:\n    - webhook: {urlFrom: {env: HOOK_URL}}\n      events: [passed, failed]\n"

    remote, work = example(tmp_path, "fleet-config", budget)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-us-east:degraded@v1.4.2")
    summary = tmp_path / "summary.md"
    env = {"HOOK_URL": receiver.url + "/hook", "GITHUB_STEP_SUMMARY": str(summary)}
    try:
        for _ in range(40):  # until the canary's pass is recorded
            step = rollout(work, "run", "security-patch", "--kubeconfig", str(sim.kubeconfig), "--format", "json",
                           env=env)
            assert step.returncode == 0, step.stdout + step.stderr
            result = json.loads(step.stdout)
            if any(v["wave"] == 1 for v in result["verified"]):
                break
            time.sleep(0.5)
        assert [v["wave"] for v in result["verified"]] == [1], result
        (warning,) = result["warnings"]
        assert (warning["wave"], warning["cluster"], warning["gate"]) == (1, "dev-us-east", "argocd")
        assert "- :warning: wave 1 canary: **dev-us-east** failed argocd (within maxFailures)" in summary.read_text()
        verify = git(remote, "log", "-1", "--format=%H", "--grep=wave 1 canary passed", "main").strip()
        events = receiver.events("/hook")
        assert [(e["event"], e["commit"]) for e in events] == [("passed", verify), ("failed", verify)]
        assert events[1]["clusters"] == {"count": 1, "first": ["dev-us-east"]}
        assert "within maxFailures" in events[1]["reason"]
        text = rollout(work, "run", "security-patch", "--kubeconfig", str(sim.kubeconfig), env=env)
        assert "warning: wave 1 canary: dev-us-east failed argocd (within maxFailures)" not in text.stdout  # passed: not re-judged
        wave_1 = [e for e in receiver.events("/hook") if e["wave"]["number"] == 1]
        assert len(wave_1) == 2  # the canary's events are not resent (later waves may pass meanwhile)
    finally:
        sim.stop()


def test_advance_and_revert_by_hand_notify_too(tmp_path, receiver):
    remote, work = published(tmp_path, SEED_POLICY + "  notify:\n    - webhook: {url: %s/hook}\n" % receiver.url)
    assert rollout(work, "advance", "security-patch", "--wave", "1").returncode == 0
    assert rollout(work, "revert", "security-patch", "--wave", "1", "--reason", "smoke test failed").returncode == 0
    advance, revert = git(remote, "log", "--format=%H", "--reverse", "main").split()[1:]
    got = [(e["event"], e["commit"], e["reason"]) for e in receiver.events("/hook")]
    assert got == [("advanced", advance, ""), ("reverted", revert, "smoke test failed")]
    dry = rollout(work, "advance", "security-patch", "--wave", "1", "--dry-run")
    assert dry.returncode == 1 and len(receiver.requests) == 2  # a refusal sends nothing


def test_while_paused_run_still_judges_the_gates_and_reverts_a_failed_wave(tmp_path):
    import re
    import time

    pytest.importorskip("kubernetes")
    from test_simulator import Running
    from test_simulator import published as example

    remote, work = example(tmp_path, "fleet-config", lambda text: re.sub(r"bake: \S+", "bake: 1s", text))
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-us-east:degraded@v1.4.2")
    try:
        kube = ("--kubeconfig", str(sim.kubeconfig))
        assert rollout(work, "run", "security-patch", *kube).returncode == 0  # wave 1 goes
        assert rollout(work, "pause", "security-patch", "--reason", "watch the canary").returncode == 0
        for _ in range(40):
            step = rollout(work, "run", "security-patch", *kube)
            if step.returncode != 0:
                break
            assert step.stdout.strip().endswith(": paused"), step.stdout
            time.sleep(0.5)
        assert step.returncode == 1 and "reverted wave 1 canary" in step.stdout, step.stdout + step.stderr
        assert [s.split(": ", 1)[1] for s in subjects(remote)] == [
            "wave 1 canary -> v1.4.2", "pause security-patch: watch the canary", "revert wave 1 canary (v1.4.2)"]
    finally:
        sim.stop()


def test_the_step_that_completes_the_rollout_sends_complete_once(tmp_path, receiver):
    remote, work = published(tmp_path, SEED_POLICY + "  notify:\n    - webhook: {url: %s/hook}\n      events: [complete]\n"
                             % receiver.url)
    now = MONDAY
    for _ in range(8):
        step = rollout(work, "run", "security-patch", now=now)
        assert step.returncode == 0, step.stderr
        if step.stdout.strip().endswith(": complete"):
            break
        now += 2 * 3600  # past every bake
    assert step.stdout.strip().endswith(": complete"), step.stdout
    (event,) = receiver.events("/hook")
    last = git(remote, "rev-parse", "main").strip()
    assert (event["event"], event["commit"], event["clusters"]["count"]) == ("complete", last, 6)
    assert rollout(work, "run", "security-patch", now=now + 3600).returncode == 0
    assert len(receiver.requests) == 1


def test_a_receiver_that_hangs_times_out_and_the_retry_delivers():
    import time

    from rollout.notify import TIMEOUT, Event, send
    from waves.notify import NotifySpec

    slow = Receiver()
    handler = slow.server.RequestHandlerClass
    first, calls = handler.do_POST, []

    def hang_once(self):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(TIMEOUT + 1)  # past the client's timeout: it gives up and asks again
        try:
            first(self)
        except BrokenPipeError:  # the client gave up on this one
            pass

    handler.do_POST = hang_once
    try:
        spec = NotifySpec.model_validate({"webhook": {"url": slow.url + "/hook"}})
        started = time.monotonic()
        warnings = send([spec], [Event("paused", "security-patch", commit="c0ffee", reason="drill")])
        # It waited out the timeout (a lower bound: load only adds to it) and gave up before
        # the hung handler answered at TIMEOUT + 1 s: else that answer would have been the
        # delivery and there would be no second call below.
        assert warnings == [] and TIMEOUT <= time.monotonic() - started
        time.sleep(1.5)  # let the hung handler finish
        assert len(calls) == 2 and [e["reason"] for e in slow.events("/hook")] == ["drill", "drill"]
    finally:
        slow.close()


def test_a_halt_is_notified_once_by_the_step_that_records_it(tmp_path, receiver):
    """Issue 18: the halt record's step sends `failed` (onFailure: halt) keyed by the
    record; the steps that find the rollout halted afterwards send nothing, even on a
    runner with an empty sent log (a new CI machine each night)."""
    import re

    pytest.importorskip("kubernetes")
    from test_simulator import Running
    from test_simulator import published as example

    def halting(text: str) -> str:
        text = re.sub(r"bake: \S+", "bake: 1s", text).replace("onFailure: revert", "onFailure: halt")
        return text + "  notify:\n    - webhook: {urlFrom: {env: HOOK_URL}}\n      events: [failed, halted]\n"

    remote, work = example(tmp_path, "fleet-config", halting)
    sim = Running(remote, tmp_path / "kubeconfig", "--fault", "dev-us-east:sync-failed@v1.4.2")
    env = {"HOOK_URL": receiver.url + "/hook"}
    try:
        halted = rollout(work, "run", "security-patch", "--kubeconfig", str(sim.kubeconfig), "--wait", "--interval",
                         "1s", "--timeout", "1m", env=env)
        assert halted.returncode == 1 and halted.stdout.strip().endswith("v1.4.2: failed"), halted.stdout + halted.stderr
        record = git(remote, "rev-parse", "main").strip()
        (event,) = receiver.events("/hook")
        assert event["event"] == "failed" and event["commit"] == record and "dev-us-east" in event["reason"]
        for _ in range(2):
            (work / ".git" / "rollout" / "notified").unlink(missing_ok=True)  # a new runner: nothing remembered
            again = rollout(work, "run", "security-patch", "--kubeconfig", str(sim.kubeconfig), env=env)
            assert again.returncode == 1 and again.stdout.strip().endswith("v1.4.2: halted"), again.stdout
        assert len(receiver.events("/hook")) == 1
    finally:
        sim.stop()
