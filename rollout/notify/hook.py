"""Where the shell hands what it committed to the sinks: a `rollout run` step and a
pause/resume record become Events; sent once each, warnings printed to stderr."""

from __future__ import annotations

import sys
from pathlib import Path

from rollout.notify import Event, SentLog, send


def sent_log(repo: Path) -> SentLog | None:
    from rollout.git.repo import Git, GitError

    try:
        common = Git(repo).run("rev-parse", "--git-common-dir").strip()
    except (GitError, OSError):
        return None
    return SentLog((Path(repo) / common / "rollout" / "notified").resolve())


def step_events(result) -> list[Event]:
    """What a `rollout run` step did, as events (only what it committed, or a halt)."""
    policy, revision, plan = result.policy, result.revision, result.plan
    events = []
    for item in result.merged:  # pull-request delivery: a change is out once merged, not when proposed
        kind = {"advance": "advanced", "revert": "reverted"}.get(item["action"])
        if kind and item["wave"] is not None:
            clusters = tuple(plan.wave(item["wave"]).clusters) if plan else ()
            events.append(Event(kind, policy, revision, item["commit"] or "", item["wave"], item["name"], clusters))
    for item in result.advanced:
        if item.get("pullRequest"):
            continue
        events.append(Event("advanced", policy, revision, item["commit"] or "", item["wave"], item["name"],
                            tuple(item["clusters"]), "late join" if item.get("lateJoin") else ""))
    for item in result.verified:  # a late join's: its clusters only
        clusters = tuple(item["lateJoin"]) if item.get("lateJoin") else tuple(plan.wave(item["wave"]).clusters) \
            if plan else ()
        events.append(Event("passed", policy, revision, item["commit"] or "", item["wave"], item["name"], clusters))
        failed = [w for w in result.within_budget if w["wave"] == item["wave"]]
        if failed:
            events.append(Event("failed", policy, revision, item["commit"] or "", item["wave"], item["name"],
                                tuple(w["cluster"] for w in failed),
                                f"{len(failed)} cluster{'s' if len(failed) != 1 else ''} failed within maxFailures: "
                                + "; ".join(f"{w['cluster']}: {w['reason']}" for w in failed[:3])))
    for item in result.reverted:
        if item.get("pullRequest"):
            continue
        clusters = tuple(item["lateJoin"]) if item.get("lateJoin") else tuple(plan.wave(item["wave"]).clusters) \
            if plan else ()
        events.append(Event("failed", policy, revision, item["commit"] or "", item["wave"], item["name"],
                            clusters, item["reason"]))
        events.append(Event("reverted", policy, revision, item["commit"] or "", item["wave"], item["name"],
                            clusters, item["reason"]))
    if result.halted:  # a halt record: notified once, by the step that committed it
        events.append(Event(result.status, policy, revision, result.halted[0]["commit"] or "",
                            reason="; ".join(result.notes[:3])))
    elif result.status in ("failed", "halted") and result.head and not result.halt_held:
        events.append(Event(result.status, policy, revision, result.head, reason="; ".join(result.notes[:3])))
    if result.status == "complete" and (result.advanced or result.verified):
        last = (result.verified or result.advanced)[-1]
        events.append(Event("complete", policy, revision, last["commit"] or "",
                            clusters=tuple(c.name for c in plan.targets) if plan else ()))
    return events


def after_step(repo: Path, result) -> list[str]:
    if not result.sinks:
        return []
    return send(result.sinks, step_events(result), sent_log(repo))


def after_record(repo: Path, outcome, policy_ref: str | None = None) -> None:
    """A command committed something (advance, revert, pause, resume): tell the sinks of
    the policies it concerns. A pause of every policy tells every policy's sinks."""
    from rollout.policy_file import find_policy, load_policy

    changes = [c for c in outcome.changes if c.commit]
    if not changes:
        return
    if changes[0].action in ("pause", "resume") and changes[0].name == "*":
        refs = sorted(str(p) for p in (Path(repo) / "rollouts").glob("*.y*ml"))
    else:
        refs = [policy_ref or changes[0].name]
    warnings = []
    for ref in refs:
        try:
            loaded = load_policy(find_policy(Path(repo), ref))
        except Exception:  # noqa: BLE001 - a policy that cannot be read has no sinks to tell
            continue
        if loaded.policy is None or not loaded.policy.spec.notify:
            continue
        name, revision = loaded.policy.metadata.name, loaded.policy.spec.revision
        events = []
        for change in changes:
            if change.action in ("pause", "resume"):
                events.append(Event(change.action + "d", name, revision, change.commit,
                                    reason=getattr(outcome, "reason", "")))
            elif change.action in ("advance", "revert") and not change.proposal:
                events.append(Event({"advance": "advanced", "revert": "reverted"}[change.action], name, revision,
                                    change.commit, change.number, change.name, tuple(change.clusters),
                                    getattr(outcome, "reason", "") or ("late join" if change.late else "")))
        warnings += send(loaded.policy.spec.notify, events, sent_log(repo))
    for line in warnings:
        print(line, file=sys.stderr)
