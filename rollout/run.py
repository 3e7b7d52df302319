"""`rollout run`: one idempotent, stateless step of a rollout, for CI.

1. Fold the state from Git; check every gate still to be judged is set up right
   (kubeconfig, contexts, credentials, PromQL): a set-up error is exit 2 before any write.
2. Judge the gates of the waves out and not yet passed (a recorded pass is never
   re-opened: a later outage cannot revert it).
3. A failed wave: `onFailure` (revert: a revert commit with the gate's reason; halt:
   stop), exit 1. A wave nobody can observe: no advance, no revert; past
   `progressDeadline` the rollout halts, exit 1, saying it cannot see.
4. A wave whose gates passed after its bake: a `verify` record (the evidence) in Git.
5. Advance every wave whose dependencies have passed (the engine's race safety: two
   runs never both advance a wave); push; summarize.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from waves.decide import ADVANCE, HALT, JUDGED, REVERT, VERIFY, WAIT, of
from waves.state import EMPTY
from rollout.render.trust import trust_lines
from rollout.session import clock, open_synced
from rollout.gate_check import WaveVerdict, evaluate, evaluate_join, preflight
from rollout.render.words import count
from rollout.step import Stepper, bind


@dataclass
class Step:
    policy: str = ""
    revision: str = ""
    status: str = ""  # the rollout's status after the step
    state: object | None = None  # the folded RolloutState after the step
    plan: object | None = None
    verdicts: list[WaveVerdict] = field(default_factory=list)
    joined: list[WaveVerdict] = field(default_factory=list)  # the late joins' verdicts (each judged on its own)
    advanced: list[dict] = field(default_factory=list)
    merged: list[dict] = field(default_factory=list)  # pull requests this step merged (pull-request delivery)
    verified: list[dict] = field(default_factory=list)
    reverted: list[dict] = field(default_factory=list)
    halted: list[dict] = field(default_factory=list)  # halt records this step committed
    halt_held: bool = False  # halted by a record of an earlier step (notified then)
    notes: list[str] = field(default_factory=list)
    within_budget: list[dict] = field(default_factory=list)  # failed clusters that maxFailures allows
    head: str = ""  # the branch's commit after the step (the key of a halt's notification)
    sinks: tuple = ()  # spec.notify
    exit_code: int = 0
    load_warnings: list[str] = field(default_factory=list)  # what loading warned of, as `status` says it (stderr)

    def waves(self) -> list[dict]:
        """Every wave of the plan, its status after the step and its gates' verdict."""
        from rollout.render.status import wave_rows

        return wave_rows(self.plan, self.state, {v.number: v for v in self.verdicts}) if self.plan else []

    def as_dict(self) -> dict:
        return {"policy": self.policy, "revision": self.revision, "status": self.status, "waves": self.waves(),
                "gates": [v.as_dict() for v in self.verdicts + self.joined], "merged": self.merged, "advanced": self.advanced,
                "verified": self.verified, "reverted": self.reverted, "halted": self.halted, "notes": self.notes,
                "warnings": self.within_budget,
                "exitCode": self.exit_code}


def step(repo: Path, policy_ref: str, kube, push: bool | None = None, delivery: str | None = None) -> Step:
    """One step on one snapshot: one session, one fetch, one load, one fold, one clock;
    the gates judged once; waves/decide.py decides; rollout/step.py builds and publishes."""
    from rollout.render.status import warning_lines

    session = open_synced(repo, push, delivery)
    kube.forget()
    now = clock()
    stepper = Stepper(session, policy_ref, now)
    snap = stepper.snapshot()  # and the delivery's set-up check (exit 2)
    ws, state = snap.ws, snap.state
    result = Step(ws.plan.policy, ws.plan.revision, state=state, plan=ws.plan, sinks=ws.loaded.policy.spec.notify,
                  load_warnings=warning_lines(state, ws.warnings))
    result.notes += session.notes  # an interrupted publish finished first
    try:
        return _step(session, stepper, kube, now, result)
    finally:
        result.head = session.git.head()
        latest = stepper.latest()  # what the step's writes were decided on (read afresh for them)
        if latest is not None:
            result.policy, result.revision, result.plan = latest.ws.plan.policy, latest.ws.plan.revision, latest.ws.plan


def _step(session, stepper, kube, now, result) -> Step:
    snap = stepper.snapshot()
    ws, state = snap.ws, snap.state
    if ws.degraded:  # a live inventory source cannot be read: the waves out judged from their records
        result.notes.append(f"the inventory cannot be read ({ws.degraded}): the waves that are out are judged and "
                            "reverted from their advance records; nothing advances until it answers")
    if state.verified:  # spec.trust: the records that did not count, one line each
        result.notes += trust_lines(state, blocked=False) + [f"ignored: {i.line()}" for i in snap.hold.ignored]
    judged = [w for w in state.waves if w.status in JUDGED or w.joins_out]
    if state.overall == "reverted" and not judged:
        result.status, result.exit_code = "reverted", 1
        result.notes.append(f"rollout of {ws.plan.revision} was reverted: nothing to do until a new revision")
        return result
    preflight(ws, kube, [w.number for w in state.waves if w.status not in ("passed", "reverted", "empty") or w.joins_out],
              now)
    # pull requests: merge the ready, halt on the closed; an advance's merge (its wave's start) waits for the verdicts
    tending = session.delivery.tend(session, ws, state, snap.hold, advances=False)
    result.merged, result.notes = tending.merged, result.notes + tending.notes
    if tending.halts:
        result.status, result.exit_code = "halted", 1
        result.notes += [f"halted: {line}" for line in tending.halts]
        result.state = stepper.after()
        return result
    if tending.merged:
        state = result.state = stepper.snapshot().state  # the merges moved the branch: read again
        if state.overall == "reverted" and not any(w.status in JUDGED or w.joins_out for w in state.waves):
            result.status, result.exit_code = "reverted", 1
            return result
    if tending.reverting:
        result.status, result.exit_code = "reverting", 1
        result.notes += tending.reverting
        return result
    return _judge(stepper, kube, now, result)


def _judge(stepper, kube, now, result) -> Step:
    snap = stepper.snapshot()
    ws, state = snap.ws, snap.state
    judged = {w.number: evaluate(ws, state, w.number, now, kube) for w in state.waves if w.status in JUDGED}
    # each late join out by its own verdict (a halted wave is judged no more: a person decides)
    joining = {j.commit: evaluate_join(ws, state, w.number, j, now, kube) for w in state.waves if not w.halt_commit
               for j in w.joins_out}
    result.verdicts, result.joined = list(judged.values()), list(joining.values())
    verdicts = {v.name: bind(v, state.wave(n).advance_commit) for n, v in judged.items()}
    joins = {c: bind(v, c) for c, v in joining.items()}
    decided = stepper.decide(verdicts, joins)
    if of(decided, REVERT) or of(decided, HALT):
        return _stop(stepper, verdicts, decided, {**judged, **joining}, result, joins)
    if snap.state.halts or snap.state.blocked:  # halted by a record of an earlier step, or by spec.trust: a person decides
        result.status, result.exit_code, result.halt_held = "halted", 1, bool(snap.state.halts)
        result.notes += [a.reason for a in of(decided, WAIT) if a.wave is None]
        return result
    # pull requests: the advances ready to merge start their waves now that this step's verdicts fail and halt nothing
    # (merged before them, a sibling's advance went out in the very step that reverts its sibling)
    session = stepper.session
    tending = session.delivery.tend(session, ws, state, snap.hold, advances=True)
    result.merged = result.merged + tending.merged
    result.notes += [note for note in tending.notes if note not in result.notes]  # what the first look said, once
    if tending.halts:
        result.status, result.exit_code = "halted", 1
        result.notes += [f"halted: {line}" for line in tending.halts]
        result.state = stepper.after()
        return result
    starting = [a.wave for a in of(decided, ADVANCE) if not a.late]
    if starting:  # before anything is written: the waves going out can be judged (refused: exit 2)
        preflight(ws, kube, starting, now, reach=True)
    result.notes += [f"wave {a.wave} {a.name}: {a.reason}: waiting (no advance, no revert)"
                     for a in of(decided, WAIT) if (a.wave in judged and judged[a.wave].state == "unknown" and not a.late)
                     or (a.late and a.advance in joining)]
    result.within_budget = within_budget(judged.values())

    # the passes recorded and the advances they release (under pull-request delivery the
    # records go to their own branch, and this decision's advances still count them)
    outcomes = stepper.carry_out(verdicts, decided, [((VERIFY,), {"record": True}), ((ADVANCE,), {})], joins)
    changes = [c for outcome in outcomes for c in outcome.changes]
    result.verified = [{"wave": c.number, "name": c.name, "commit": c.commit, **({"lateJoin": c.clusters} if c.late
                                                                                 else {})}
                       for c in changes if c.action == VERIFY]
    result.advanced = [{"wave": c.number, "name": c.name, "commit": c.commit, "clusters": c.clusters,
                        "files": c.files, "lateJoin": c.late, **({"pullRequest": c.proposal} if c.proposal else {})}
                       for c in changes if c.action != VERIFY]
    # a pause, a reverted wave, waves waiting for their change window
    last = outcomes[-1].decided if outcomes else decided
    result.notes += [a.reason if a.wave is None else f"wave {a.wave} {a.name}: {a.reason}"
                     for a in of(last, WAIT) if a.wave not in judged and not a.late]
    result.state = after = stepper.after()
    if any(outcome.proposed for outcome in outcomes):  # waiting in a pull request: never complete
        result.status = "proposed"
    elif after.overall == "complete":
        result.status = "complete"
    elif after.overall == EMPTY:  # every wave claims no cluster: nothing to wait for (`run --wait` stops)
        result.status = EMPTY
        result.notes.append(f"every wave of {ws.plan.policy} claims no cluster: nothing to roll out")
    elif result.advanced or result.verified or result.merged:
        result.status = "advanced"
    else:
        result.status = "paused" if snap.hold.paused else "waiting"
        result.notes += [f"wave {v.number} {v.name}: {v.reason}" for v in judged.values() if v.state == "pending"][:3]
        result.notes += [f"wave {w.number} {w.name} waits for `rollout approve --wave {w.number}`"
                         for w in ws.plan.waves if w.approval == "required" and after.wave(w.number).status == "passed"
                         and not after.wave(w.number).approved_by]
    return result


def _stop(stepper, verdicts, decided, judged, result, joins=None) -> Step:
    """Every failed wave (or late join) reverted (or, `onFailure: halt`, halted) and every
    one blind past its deadline halted, in this very step: reverts as commits, halts as
    records that stick. `judged`: verdicts by wave number, and by late join commit."""
    outcomes = stepper.carry_out(verdicts, decided, [((REVERT,), {"urgent": True}), ((HALT,), {"record": True})],
                                 joins)
    for outcome in outcomes:
        result.notes += outcome.notes
        for change in outcome.changes:
            item = {"wave": change.number, "name": change.name, "commit": change.commit,
                    "reason": _reason(outcome, change), **({"pullRequest": change.proposal} if change.proposal else {}),
                    **({"lateJoin": change.clusters, "advance": change.advance} if change.late else {})}
            (result.reverted if change.action == REVERT else result.halted).append(item)
    proposed = any(item.get("pullRequest") for item in result.reverted)

    def verdict(item):  # none: a halt on clusters set off the revision by hand (no gate judged it)
        return judged.get(item["advance"] if item.get("lateJoin") else item["wave"])

    if result.reverted:  # proposed, a revert is not done until merged: the next step merges it
        result.status = "reverting" if proposed else "reverted"
    else:
        failed = any(getattr(verdict(item), "state", None) == "failed" for item in result.halted)
        result.status = "failed" if failed else "halted"
    # a failure halted under onFailure: revert is a late join its commit alone cannot take back (its reason says so)
    why = "onFailure: halt: " if stepper.latest().ws.loaded.policy.spec.onFailure.action == "halt" else ""
    result.notes += [f"wave {i['wave']} {i['name']}: {i['reason']}; {why}halted, recorded "
                     f"{(i['commit'] or '')[:12]}" if getattr(verdict(i), "state", None) == "failed" else
                     f"halted: wave {i['wave']} {i['name']}: {i['reason']} (recorded {(i['commit'] or '')[:12]})"
                     for i in result.halted]
    result.exit_code = 1
    result.state = stepper.after()
    return result


def _final(result: Step) -> bool:
    """Whether `run --wait` is done: complete, failed, halted or empty (no wave claims a
    cluster: nothing will ever go); reverted once no wave
    of the revision is still out unjudged (a parallel wave may fail after its sibling's
    revert: it is judged, and reverted, by the steps that follow)."""
    if result.status == "reverted":
        return result.state is None or not any(w.status in JUDGED or w.joins_out for w in result.state.waves)
    return result.status in ("complete", "failed", "halted", EMPTY)


def _reason(outcome, change) -> str:
    """Why a revert or halt the step made: its decided action's reason (the failed gate)."""
    return next(a.reason for a in outcome.decided if a.kind == change.action and a.wave == change.number
                and a.late == change.late and (not a.late or a.advance == change.advance))


def within_budget(verdicts) -> list[dict]:
    """Clusters whose gates failed in waves that maxFailures still lets go on: one entry each."""
    out = []
    for verdict in verdicts:
        if verdict.state == "failed":
            continue
        seen = set()
        for check in verdict.checks:
            if check.state == "failed" and check.cluster not in seen:
                seen.add(check.cluster)
                out.append({"wave": verdict.number, "name": verdict.name, "cluster": check.cluster,
                            "gate": check.gate, "reason": check.reason})
    return out


def _warning(item: dict) -> str:
    return (f"warning: wave {item['wave']} {item['name']}: {item['cluster']} failed {item['gate']} "
            f"(within maxFailures): {item['reason']}")


def _joined(item: dict) -> str:
    """` (late join: b, c)` for a record or revert of a late join."""
    return f" (late join: {', '.join(item['lateJoin'])})" if item.get("lateJoin") else ""


def _counted(item: dict) -> str:
    """`1 cluster, 2 files`: what an advance pins, as `rollout advance` says it."""
    return f"{count(len(item['clusters']), 'cluster')}, {count(len(item.get('files', ())), 'file')}"


def summary_markdown(result: Step) -> str:
    lines = [f"### rollout `{result.policy}` → `{result.revision}`: **{result.status}**", ""]
    for item in result.merged:
        lines.append(f"- merged [{item['ref'].split()[-1]}]({item['url']}) ({item['action']} of wave {item['wave']} "
                     f"{item['name']}) `{(item['commit'] or '')[:12]}`")
    for item in result.advanced:
        lines.append(f"- advanced wave {item['wave']} {item['name']} ({_counted(item)}) "
                     f"`{(item['commit'] or '')[:12]}`")
    for item in result.verified:
        lines.append(f"- wave {item['wave']} {item['name']}{_joined(item)} passed its gates "
                     f"`{(item['commit'] or '')[:12]}`")
    for item in result.reverted:
        lines.append(f"- **reverted** {'the late join of ' if item.get('lateJoin') else ''}wave {item['wave']} "
                     f"{item['name']}{_joined(item)} `{(item['commit'] or '')[:12]}`: {item['reason']}")
    for item in result.within_budget:
        lines.append(f"- :warning: wave {item['wave']} {item['name']}: **{item['cluster']}** failed {item['gate']} "
                     f"(within maxFailures): {item['reason']}")
    rows = result.waves()
    if rows:
        lines += ["", "| # | wave | status | gates | why |", "|---|---|---|---|---|"]
        lines += [f"| {r['number']} | {r['name']} | {r['status']} | {r['gates'] or '—'} | {r['why'] or '—'} |"
                  for r in rows]
    lines += [""] + [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def status_picture(repo: Path, policy_ref: str) -> str:
    """The rollout after the step as `rollout status --format markdown` shows it: the
    waves' table and the DAG coloured by status (GitHub renders the Mermaid block)."""
    from rollout.status import status
    from rollout.render.status_markdown import render

    ws, state = status(repo, policy_ref)
    return "\n" + render(ws.plan, state) + "\n"


def write_report(repo: Path, policy_ref: str, path: Path, result: Step) -> list[str]:
    """The report page after a step, with the step's verdicts, replacing the last one whole
    (rollout/report.py). The step is done and published: a page that cannot be written is a
    warning, never the step's failure."""
    from rollout.git.repo import GitError
    from rollout.render.html import render
    from rollout.report import status_page, write

    try:
        write(path, render(status_page(repo, policy_ref, result.verdicts)))
    except (OSError, GitError) as err:
        return [f"warning: --report {path}: not written: {err}"]
    return []


def lines(result: Step) -> list[str]:
    """What a step did, as log lines; the last one is the rollout's status."""
    out = [f"{'proposed' if i.get('pullRequest') else 'advanced'} wave {i['wave']} {i['name']}: "
           f"{_counted(i)} {(i['commit'] or '')[:12]}"
           + (f" in {i['pullRequest']['ref']} {i['pullRequest']['url']}" if i.get('pullRequest') else "")
           for i in result.advanced]
    out = [f"merged {i['ref']} ({i['action']} of wave {i['wave']} {i['name']}): "
           f"{(i['commit'] or '')[:12]}" for i in result.merged] + out
    out = [f"wave {i['wave']} {i['name']}{_joined(i)} passed its gates: recorded {(i['commit'] or '')[:12]}"
           for i in result.verified] + out
    out += [f"{'proposed the revert of' if i.get('pullRequest') else 'reverted'} "
            f"{'the late join of ' if i.get('lateJoin') else ''}wave {i['wave']} {i['name']}{_joined(i)}: commit "
            f"{(i['commit'] or '')[:12]}: {i['reason']}"
            + (f" in {i['pullRequest']['ref']} {i['pullRequest']['url']}" if i.get('pullRequest') else "")
            for i in result.reverted]
    out += [_warning(item) for item in result.within_budget]
    out += result.notes
    out.append(f"rollout {result.policy} -> {result.revision}: {result.status}")
    return out


def run(repo: Path, policy_ref: str, kubeconfig: str | None, push: bool | None, wait: bool, timeout: float,
        interval: float, fmt: str, delivery: str | None = None, report: Path | None = None) -> int:
    """Step once, or with `wait` until complete, failed or `timeout`: a live table in a
    terminal, log lines elsewhere (CI), one JSON object per step with `fmt == "json"`.
    `report`: the page of `rollout status --format html` written there after each step."""
    from rollout.notify.hook import after_step
    from rollout.observers.kube import Kube
    from rollout.render.status import live_view

    kube = Kube(kubeconfig)
    live = None
    if wait and fmt != "json" and sys.stdout.isatty():
        from rich.live import Live

        live = Live(refresh_per_second=4)
        live.__enter__()
    log: list[str] = []
    deadline = time.monotonic() + timeout
    result = None
    warned: list[str] = []
    try:
        while True:
            result = step(repo, policy_ref, kube, push, delivery)
            if result.load_warnings != warned:  # on stderr, as `status` says them; with --wait, once until they change
                warned = result.load_warnings
                for line in warned:
                    print(line, file=sys.stderr, flush=True)
            if fmt == "json":
                print(json.dumps(result.as_dict()), flush=True)
            elif live is not None:
                log += [f"{time.strftime('%H:%M:%S')} {line}" for line in lines(result)[:-1]]
                live.update(live_view(result.plan, result.state, result.verdicts, log,
                                      f"rollout {result.policy} → {result.revision}: {result.status}"))
            else:
                for line in lines(result):
                    print(line, flush=True)
            for warning in after_step(repo, result):  # after the push; a failure is only a warning
                print(warning, file=sys.stderr, flush=True)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with open(summary, "a") as handle:
                    handle.write(summary_markdown(result) + status_picture(repo, policy_ref))
            if report is not None:
                for warning in write_report(repo, policy_ref, report, result):
                    print(warning, file=sys.stderr, flush=True)
            if not wait or _final(result) or time.monotonic() > deadline:
                break
            time.sleep(interval)
    finally:
        if live is not None:
            live.__exit__(None, None, None)
            print(lines(result)[-1] if result is not None else "", flush=True)
    if wait and not _final(result):
        print(f"rollout run --wait: timed out with the rollout {result.status}", file=sys.stderr)
        return 3
    return result.exit_code
