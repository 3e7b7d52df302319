"""Judging a wave's health gates now: the observers (rollout/observers/) fetch the
evidence, the pure verdicts (waves/gates/) judge each cluster, and this decides the wave.

Three kinds of trouble, kept apart (docs/gates.md):
- the observer is set up wrong (kubeconfig, context, credentials, PromQL): SetupError,
  exit 2, raised by `preflight` before anything is written;
- a gate reached nothing at all (every context, or its Prometheus, unreachable), or a
  place it reads refused our credentials after the wave went out (access lost): the
  wave is `unknown`: never passed, never failed; past `progressDeadline` the rollout
  halts (`halt`, a record naming what refused), because it cannot see, not because the
  change failed;
- some clusters cannot be reached while the gate sees others: pending, and failed at
  `progressDeadline` (a change can break a cluster's API), counted against maxFailures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from waves.durations import format_duration
from waves.policy import failure_budget
from waves.state import EMPTY
from rollout.observers import Check, Context, gate_of, observer

EVIDENCE_LINES = 100  # per gate, in a verify record; the rest is counted


@dataclass
class WaveVerdict:
    number: int
    name: str
    state: str  # passed | pending | failed | unknown
    reason: str
    checks: list[Check] = field(default_factory=list)
    halt: bool = False  # unknown past progressDeadline: stop the rollout, revert nothing

    def as_dict(self) -> dict:
        return {"wave": self.number, "name": self.name, "state": self.state, "reason": self.reason,
                "halt": self.halt, "checks": [c.as_dict() for c in self.checks]}

    def evidence(self) -> list[str]:
        """What a verify record keeps: per gate, how many clusters passed, and why."""
        lines = []
        gates = list(dict.fromkeys(c.gate for c in self.checks))
        for gate in gates:
            checks = [c for c in self.checks if c.gate == gate]
            passed = sum(c.state == "passed" for c in checks)
            lines.append(f"{gate}: {passed} of {len(checks)} clusters passed")
            lines += [f"  {c.cluster}: {c.state}: {c.reason}" for c in checks[:EVIDENCE_LINES]]
            if len(checks) > EVIDENCE_LINES:
                lines.append(f"  and {len(checks) - EVIDENCE_LINES} more")
        return lines or ["no gates: the bake elapsed"]


def _unseen(check: Check) -> bool:
    """Refused credentials (access lost), or a place that holds nothing to judge (state
    `unknown`: the kstatus gate's empty selection, Current with no evidence)."""
    return check.refused or check.state == "unknown"


def context(ws, kube, now: float, wave=None, advanced_at: int | None = None, advance_commit: str | None = None
            ) -> Context:
    return Context(ws, kube, now, {c.name: c.labels for c in ws.plan.targets}, wave,
                   int(now - advanced_at) if advanced_at else 60, advance_commit)


def preflight(ws, kube, numbers: list[int], now: float, reach: bool = False) -> None:
    """Raise SetupError if any gate of these waves is set up wrong (exit 2, before any
    write): every context it names is in the kubeconfig, its PromQL parses. With `reach`
    (the waves are about to go out), every place a gate will read answers without
    refusing our credentials."""
    seen = set()
    for number in numbers:
        wave = ws.plan.wave(number)
        if wave.empty:  # nothing of it is ever judged
            continue
        for spec in wave.gates:
            name, config = gate_of(spec)
            if (name, config, reach and number) in seen:
                continue
            seen.add((name, config, reach and number))
            observer(name).preflight(context(ws, kube, now, wave), config, list(wave.clusters), reach=reach)


def judged(ws, ws_state, wave, ctx) -> tuple[list[str], list[str]]:
    """(the clusters a wave's gate judges, the ones it cannot): what its first advance pinned
    (its advance record), whatever the inventory says now: a change that breaks a cluster
    must fail the wave, not make the cluster unavailable or gone. A cluster not pinned then
    (left out, unavailable, or joined since) is judged by its late join's own verdict
    (`evaluate_join`). A pinned cluster the plan knows nowhere any more (gone from the
    inventory, its labels not recorded: the gates' templates, its pins, need them) cannot be
    judged: it is not dropped, it makes the verdict unknown (`_judge`)."""
    if not ws_state.own:
        return list(wave.clusters), []
    return _known(ws_state.own, ctx)


def _known(clusters, ctx) -> tuple[list[str], list[str]]:
    return [c for c in clusters if c in ctx.labels], [c for c in clusters if c not in ctx.labels]


def evaluate_join(ws, state, number: int, join, now: int, kube) -> WaveVerdict:
    """A late join judged on its own by its wave's gates: the clusters it pinned, its bake
    and progressDeadline counted from its commit. No failure budget: maxFailures is its
    wave's, spent on the wave's own advance; a joiner failing is positive evidence the
    revision is bad there (a budget of its own size would let `10%` of one cluster pass a
    failure). docs/inventory.md, "Late joins"."""
    wave = ws.plan.wave(number)
    ctx = context(ws, kube, now, wave, join.advanced_at, join.commit)
    members, gone = _known(join.clusters, ctx)
    name = f"{wave.name} late join ({', '.join(join.clusters)})"
    return _judge(ws, number, name, wave, ctx, members, join.advanced_at, join.bake_remaining, now, budget=0,
                  gone=gone)


def evaluate(ws, state, number: int, now: int, kube) -> WaveVerdict:
    plan = ws.plan
    wave, ws_state = plan.wave(number), state.wave(number)
    if ws_state.status == EMPTY:  # never went out (one that did is judged on what it pinned)
        return WaveVerdict(number, wave.name, "passed", "the wave is empty (no cluster matches its selector): "
                           "nothing to judge")
    if ws_state.status in ("pending", "proposed", "reverted"):
        return WaveVerdict(number, wave.name, "failed" if ws_state.status == "reverted" else "pending",
                           f"wave is {ws_state.status}")
    ctx = context(ws, kube, now, wave, ws_state.advanced_at, ws_state.advance_commit)
    members, gone = judged(ws, ws_state, wave, ctx)
    return _judge(ws, number, wave.name, wave, ctx, members, ws_state.advanced_at, ws_state.bake_remaining, now,
                  gone=gone)


def _judge(ws, number: int, title: str, wave, ctx, members: list[str], advanced_at: int | None, bake_remaining: int,
           now: int, budget: int | None = None, gone: list[str] = ()) -> WaveVerdict:
    """The verdict of `members` (a wave's, or a late join's) by the wave's gates. `budget`:
    the failures allowed (default: the policy's maxFailures of what was pinned). `gone`:
    pinned clusters that cannot be judged now (left the inventory, their labels known
    nowhere): the tool cannot see them, so the verdict is unknown (halted past
    progressDeadline), never passed; never failed by them either: they are not evidence
    that the change failed. Gates and nothing judged is never a pass either."""
    policy = ws.loaded.policy
    checks: list[Check] = []  # from gates that see at least part of the wave
    unseen: list[Check] = []  # from gates that reached nothing
    blind: list[str] = []
    if gone and wave.gates:
        listed = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        blind.append(f"pinned, no longer in the inventory: {listed}: cannot be judged; "
                     f"`rollout revert {ws.plan.policy} --wave {wave.name}` restores what its advances pinned")
        unseen += [Check(c, gate_of(spec)[0], "unknown", "pinned, no longer in the inventory: cannot be judged",
                         observed=False) for spec in wave.gates for c in gone]
    elif not members and wave.gates:  # nothing to look at is no evidence the change works
        blind.append("no pinned cluster to judge")
    for spec in wave.gates if members else ():
        name, config = gate_of(spec)
        module = observer(name)
        gate_checks = module.observe(ctx, config, members)
        refused = [c for c in gate_checks if _unseen(c)]
        if refused:  # access lost after the wave went out, or nothing to judge: the tool cannot see, it does not judge
            blind.append(f"{name}: {refused[0].reason}")
            unseen += refused
            checks += [c for c in gate_checks if not _unseen(c)]
        elif gate_checks and not any(c.observed for c in gate_checks) and \
                not module.probe(ctx, config, members, [c for c in ctx.labels if c not in members]):
            blind.append(f"{name}: {gate_checks[0].reason}")
            unseen += gate_checks
        else:
            checks += gate_checks
    deadline = policy.spec.progressDeadline
    late = deadline is not None and advanced_at is not None and now - advanced_at > deadline
    if late:
        for check in checks:
            if check.state == "pending":
                check.state = "failed"
                check.reason = f"not passed within progressDeadline {format_duration(deadline)}: {check.reason}"
    failed_clusters = sorted({c.cluster for c in checks if c.state == "failed"})
    # the budget of what is judged: a cluster that cannot be judged is no evidence either way
    allowed = failure_budget(policy.spec.maxFailures, len(members)) if budget is None else budget
    if len(failed_clusters) > allowed:
        first = next(c for c in checks if c.state == "failed")
        return WaveVerdict(number, title, "failed",
                           f"{len(failed_clusters)} of {len(members)} clusters failed "
                           f"(maxFailures {allowed}); {first.cluster}: {first.gate}: {first.reason}", checks)
    if blind:
        why = "; ".join(blind)
        if late:
            return WaveVerdict(number, title, "unknown",
                               f"cannot observe past progressDeadline {format_duration(deadline)} ({why}): "
                               "halted because the gates cannot be seen, not because the change failed", checks + unseen,
                               halt=True)
        return WaveVerdict(number, title, "unknown", f"cannot observe ({why})", checks + unseen)
    pending = [c for c in checks if c.state == "pending" and c.cluster not in failed_clusters]
    if pending:
        return WaveVerdict(number, title, "pending", f"{pending[0].cluster}: {pending[0].gate}: {pending[0].reason}",
                           checks)
    if bake_remaining > 0:
        return WaveVerdict(number, title, "pending", f"baking, {format_duration(bake_remaining)} left",
                           checks)
    return WaveVerdict(number, title, "passed", "every gate passed and the bake has elapsed", checks)
