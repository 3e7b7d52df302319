"""`rollout run`: one idempotent, stateless step of a rollout, for CI.

Fold the state from Git; judge the gates of every advanced wave; on a failure apply
`onFailure` (revert: a revert commit with the gate's reason; halt: stop) and exit 1;
advance every wave whose dependencies have passed their gates, bake and approval; push
(the engine's race safety: two runs never both advance a wave); summarize.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rollout.engine import Outcome, advance, clock, revert
from rollout.gate_check import WaveVerdict, evaluate


@dataclass
class Step:
    policy: str = ""
    revision: str = ""
    status: str = ""  # the rollout's status after the step
    verdicts: list[WaveVerdict] = field(default_factory=list)
    advanced: list[dict] = field(default_factory=list)
    reverted: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exit_code: int = 0

    def as_dict(self) -> dict:
        return {"policy": self.policy, "revision": self.revision, "status": self.status,
                "gates": [v.as_dict() for v in self.verdicts], "advanced": self.advanced,
                "reverted": self.reverted, "notes": self.notes, "exitCode": self.exit_code}


def gate_passed(ws, state, verdicts: dict[int, WaveVerdict]) -> set[int]:
    plan = ws.plan
    passed = set()
    for wave in plan.waves:
        verdict, ws_state = verdicts.get(wave.number), state.wave(wave.number)
        if verdict is None or verdict.state != "passed":
            continue
        if wave.approval == "required" and not ws_state.approved_by:
            continue
        passed.add(wave.number)
    return passed


def step(repo: Path, policy_ref: str, kubeconfig: str | None = None, push: bool | None = None) -> Step:
    from rollout.engine import load, open_session, state_of, sync

    session = open_session(repo, push)
    sync(session)
    ws = load(session, policy_ref)
    now = clock()
    state = state_of(session, ws, now)
    result = Step(ws.plan.policy, ws.plan.revision)
    result.notes += session.notes  # an interrupted publish finished first
    if state.overall == "reverted":
        result.status, result.exit_code = "reverted", 1
        result.notes.append(f"rollout of {ws.plan.revision} was reverted: nothing to do until a new revision")
        return result
    verdicts = {w.number: evaluate(ws, state, w.number, now, kubeconfig)
                for w in state.waves if w.status in ("advanced", "passed")}
    result.verdicts = list(verdicts.values())
    failed = [v for v in verdicts.values() if v.state == "failed"]
    if failed:
        first = failed[0]
        reason = f"gate failed: {first.reason}"
        if ws.loaded.policy.spec.onFailure == "revert":
            outcome = revert(repo, policy_ref, str(first.number), False, reason, push)
            result.reverted = [{"wave": c.number, "name": c.name, "commit": c.commit, "reason": reason}
                               for c in outcome.changes]
            result.status = "reverted"
        else:
            result.status = "failed"
            result.notes.append(f"onFailure: halt: wave {first.number} {first.name} left as it is")
        result.notes.append(f"wave {first.number} {first.name}: {reason}")
        result.exit_code = 1
        return result

    def ready(ws_now, state_now) -> list[int]:
        passed = gate_passed(ws_now, state_now, verdicts)
        return [w.number for w in ws_now.plan.waves
                if state_now.wave(w.number).status == "pending" and all(d in passed for d in w.after)]

    outcome: Outcome = advance(repo, policy_ref, push=push, ready_waves=ready)
    result.advanced = [{"wave": c.number, "name": c.name, "commit": c.commit, "clusters": c.clusters,
                        "lateJoin": c.late} for c in outcome.changes]
    result.notes += outcome.notes
    done = {v.number for v in verdicts.values() if v.state == "passed"}
    if len(done) == len(ws.plan.waves):
        result.status = "complete"
    elif result.advanced:
        result.status = "advanced"
    else:
        result.status = "waiting"
        waiting = [v for v in verdicts.values() if v.state == "pending"]
        result.notes += [f"wave {v.number} {v.name}: {v.reason}" for v in waiting[:3]]
        needs = [w for w in ws.plan.waves if w.approval == "required" and w.number in done
                 and not state.wave(w.number).approved_by]
        result.notes += [f"wave {w.number} {w.name} waits for `rollout approve --wave {w.number}`" for w in needs]
    return result


def summary_markdown(result: Step) -> str:
    lines = [f"### rollout `{result.policy}` → `{result.revision}`: **{result.status}**", ""]
    for item in result.advanced:
        lines.append(f"- advanced wave {item['wave']} {item['name']} ({len(item['clusters'])} clusters) `{(item['commit'] or '')[:12]}`")
    for item in result.reverted:
        lines.append(f"- **reverted** wave {item['wave']} {item['name']}: {item['reason']}")
    if result.verdicts:
        lines += ["", "| wave | gates | why |", "|---|---|---|"]
        lines += [f"| {v.number} {v.name} | {v.state} | {v.reason} |" for v in result.verdicts]
    lines += [""] + [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def _table(result: Step, log: list[str]):
    """The live view of `rollout run --wait` in a terminal: every wave, its gates' verdict."""
    from rich.console import Group
    from rich.table import Table

    colours = {"passed": "green", "pending": "yellow", "failed": "red"}
    table = Table(title=f"rollout {result.policy} → {result.revision}: {result.status}", title_justify="left")
    for column in ("#", "wave", "gates", "why"):
        table.add_column(column)
    for verdict in result.verdicts:
        table.add_row(str(verdict.number), verdict.name,
                      f"[{colours.get(verdict.state, 'white')}]{verdict.state}[/]", verdict.reason)
    return Group(table, *log[-8:])


def _lines(result: Step) -> list[str]:
    lines = [f"advanced wave {i['wave']} {i['name']}: {len(i['clusters'])} clusters {(i['commit'] or '')[:12]}"
             for i in result.advanced]
    lines += [f"reverted wave {i['wave']} {i['name']}: {i['reason']}" for i in result.reverted]
    lines += result.notes
    lines.append(f"rollout {result.policy} -> {result.revision}: {result.status}")
    return lines


def run(repo: Path, policy_ref: str, kubeconfig: str | None, push: bool | None, wait: bool, timeout: float,
        interval: float, fmt: str) -> int:
    """Step once, or with `wait` until complete, failed or `timeout`: a live table in a
    terminal, log lines elsewhere (CI), one JSON object per step with `fmt == "json"`."""
    live = None
    if wait and fmt != "json" and sys.stdout.isatty():
        from rich.live import Live

        live = Live(refresh_per_second=4)
        live.__enter__()
    log: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            result = step(repo, policy_ref, kubeconfig, push)
            if fmt == "json":
                print(json.dumps(result.as_dict()), flush=True)
            elif live is not None:
                log += [f"{time.strftime('%H:%M:%S')} {line}" for line in _lines(result)[:-1]]
                live.update(_table(result, log))
            else:
                for line in _lines(result):
                    print(line, flush=True)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with open(summary, "a") as handle:
                    handle.write(summary_markdown(result))
            if not wait or result.status in ("complete", "reverted", "failed") or time.monotonic() > deadline:
                break
            time.sleep(interval)
    finally:
        if live is not None:
            live.__exit__(None, None, None)
            print(_lines(result)[-1] if "result" in locals() else "", flush=True)
    if wait and result.status not in ("complete", "reverted", "failed"):
        print(f"rollout run --wait: timed out with the rollout {result.status}", file=sys.stderr)
        return 3
    return result.exit_code
