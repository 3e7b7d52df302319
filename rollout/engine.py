"""advance / revert / status: the rollout's hands.

Every run is stateless: it folds the rollout's state from the Git history (one
`git log`) and the files, decides, and records what it did as commits with trailers.
Commits are built with plumbing on top of a base (rollout/git/repo.py), published, and
only then is the local branch fast-forwarded: a rejected push, an error or a `kill -9`
leaves the working tree and the branch as they were, and a re-run starts over cleanly.
"""

from __future__ import annotations

import difflib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from waves.problems import Problem
from waves.decide import ADVANCE as START, WAIT, decide, of
from waves.state import ADVANCE, OUT, RolloutState, blockers, epoch_of, fold
from rollout.git.history import (advance_message, approve_message, followed_remote, history_refs, policy_digest, read_events,
                                 revert_message)
from rollout.git import checkout
from rollout.git.repo import Git, GitError, Upstream
from rollout.controls import hold_of
from waves.holds import Hold
from rollout.yamlfile import bulk
from rollout.manifests.edit import PinError, parse, pin_text
from rollout.workspace import UsageError, Workspace, load_workspace


CLOCK_OVERRIDE = "ROLLOUT_NOW"


def clock(now: int | None = None) -> int:
    """Now, in unix seconds. ROLLOUT_NOW pins it, for rehearsals (the demo, a remote that
    is a local path) and tests of bake times; a writing run towards any other remote
    refuses it (`open_session`), and every commit made under it says so (history.py)."""
    if now is not None:
        return now
    return int(os.environ.get(CLOCK_OVERRIDE) or time.time())


def _local(url: str) -> bool:
    """Whether a remote URL is a path on this machine (a rehearsal's bare repository)."""
    return url.startswith(("/", "./", "../", "file://", "~")) or ":" not in url


def _refuse_clock_override(git: Git, upstream: Upstream | None) -> None:
    """A pinned clock skips bakes: only for rehearsals, never towards a real remote."""
    if not os.environ.get(CLOCK_OVERRIDE) or upstream is None:
        return
    url = git.run("remote", "get-url", upstream.remote, check=False).strip()
    if url and not _local(url):
        raise UsageError(f"{CLOCK_OVERRIDE} is set: a pinned clock skips bakes and is for rehearsals only (the demo, "
                         f"a remote that is a local path); {upstream.remote} is {url}: unset {CLOCK_OVERRIDE}")


class Refused(Exception):
    """The operation is not allowed now (exit 1): dependencies not passed, a race lost
    too many times, a diverged branch."""


class InvalidInput(Exception):
    """Bad input found while checking (exit 2); carries the located problems."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass
class WaveChange:
    number: int
    name: str
    action: str
    clusters: list[str]
    files: list[str]
    commit: str | None = None
    late: bool = False
    forced: list[str] = field(default_factory=list)
    diff: str = ""
    proposal: dict | None = None  # {"number", "url", "branch", "ref"}: the pull request that carries it


@dataclass
class Outcome:
    policy: str
    revision: str
    changes: list[WaveChange] = field(default_factory=list)
    pushed: bool = False
    proposed: bool = False  # pull-request delivery: the changes wait in pull requests
    notes: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # what a pause or a change window kept from starting
    paused: bool = False
    ws: object = field(default=None, repr=False)  # what the changes were decided on: the plan
    state: object = field(default=None, repr=False)  # and the state (for a pull request's body)
    decided: list = field(default_factory=list, repr=False)  # the step's actions these changes carry out

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "revision": self.revision,
            "pushed": self.pushed,
            "proposed": self.proposed,
            "waves": [
                {"number": c.number, "name": c.name, "action": c.action, "commit": c.commit,
                 "clusters": c.clusters, "files": c.files, "lateJoin": c.late, "forced": bool(c.forced),
                 **({"pullRequest": c.proposal} if c.proposal else {})}
                for c in self.changes
            ],
            "notes": self.notes,
            "held": self.held,
            "paused": self.paused,
        }


# --- setting up -----------------------------------------------------------------------


@dataclass
class Session:
    repo: Path
    git: Git
    branch: str
    upstream: Upstream | None
    push: bool
    notes: list[str] = field(default_factory=list)  # an interrupted run finished; what a dry run would refuse
    override: str | None = None  # --delivery
    writing: bool = True
    delivery: object = None  # rollout.delivery: known once the policy is loaded

    @property
    def remote(self) -> str | None:
        return self.upstream.remote if self.upstream else None

    def use(self, ws: Workspace) -> None:
        """Take the policy's delivery (or --delivery's) and check it is set up (exit 2)."""
        if self.delivery is None:
            from rollout.delivery import delivery_for

            self.delivery = delivery_for(ws.loaded.policy.spec.delivery, self.override)
            if self.writing:
                self.delivery.preflight(self)


# Files that tools (ours included) leave in a repo and that are no manifests: the
# dirty-tree refusal says how to keep them out of git's way.
_LOCAL_FILES = (("rollout-policy.schema.json", "the output of `rollout schema`"),
                (".rollout-simulator/", "an old `rollout simulate` kubeconfig"))


def dirty_message(dirty: list[str]) -> str:
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    message = f"the working tree has uncommitted changes ({shown}): commit or stash them first"
    for path in dirty:
        for name, what in _LOCAL_FILES:
            if path == name or path.endswith("/" + name) or (name.endswith("/") and path.startswith(name)):
                message += (f"; {path} is {what}, not a manifest: delete it, or keep it out of git with "
                            f"`echo '/{path}' >> .git/info/exclude`")
    return message


def open_session(repo: Path, push: bool | None, writing: bool = True, delivery: str | None = None) -> Session:
    """`writing` False (a dry run): what a real run would refuse becomes a note.
    `delivery`: --delivery, overriding the policy's spec.delivery.mode."""
    if delivery == "pull-request" and push is False:
        raise UsageError("--no-push: pull-request delivery publishes branches; it cannot work without the remote")
    git = Git(repo)
    top = git.toplevel()
    if top is None:
        raise UsageError(f"{repo}: not a git repository")
    branch = git.branch()
    if branch is None:
        raise UsageError("HEAD is detached: check out the branch the GitOps controllers follow first")
    notes: list[str] = []
    if writing:
        checkout.hold(git)  # one rollout writing in this checkout at a time
        notes += checkout.resume(git)
    refusals = []
    if top.resolve() != Path(repo).resolve():
        refusals.append(f"{Path(repo).resolve()} is a folder inside the git repo {top}: the GitOps repo must be "
                        "a repository of its own (its top level) to be advanced")
    dirty = git.dirty()
    if writing and (dirty or (git.git_dir() / "index.lock").exists()) and push is not False:
        notes += _recover_plain(git, branch)
        dirty = git.dirty()
    if dirty:
        refusals.append(dirty_message(dirty))
    upstream = git.upstream(branch)
    if writing:
        _refuse_clock_override(git, upstream)
    if push and upstream is None:
        raise UsageError(f"--push: branch {branch} has no upstream (git push -u <remote> {branch} once)")
    if push is None and upstream is None:
        refusals.append(f"branch {branch} has no upstream, so no GitOps controller would see the commit: "
                        f"push it once (git push -u <remote> {branch}) or pass --no-push to commit locally")
    if writing and refusals:
        raise UsageError(refusals[0])
    if writing:
        git.drop_stale_scratch_refs()
    do_push = bool(upstream) if push is None else push
    notes += [f"a real run would refuse: {reason}" for reason in refusals]
    return Session(repo, git, branch, upstream, do_push, notes, override=delivery, writing=writing)


def _recover_plain(git: Git, branch: str) -> list[str]:
    """A checkout a killed `git merge` left half-moved towards a published rollout commit."""
    upstream = git.upstream(branch)
    if upstream is None:
        return []
    git.fetch(upstream)
    remote = git.rev(upstream.ref)
    note = checkout.recover_plain(git, branch, remote) if remote else None
    return [note] if note else []


def sync(session: Session) -> None:
    """Fetch and fast-forward to the remote branch, so decisions are taken on what is
    published. A local branch with unpublished commits is refused: pushing would publish
    them too."""
    if not session.push:
        return
    git, up = session.git, session.upstream
    git.fetch(up)
    remote = git.rev(up.ref)
    if remote is None:
        raise Refused(f"{up.remote}/{up.branch} does not exist: push the branch once first")
    head = git.head()
    if head == remote:
        return
    if git.is_ancestor(head, remote):
        git.fast_forward(remote)
    elif git.is_ancestor(remote, head):
        raise Refused(f"{session.branch} has commits not on {up.remote}/{up.branch}: push or drop them first")
    else:
        raise Refused(f"{session.branch} and {up.remote}/{up.branch} have diverged: reconcile them first")


def load(session: Session, policy_ref: str, check_files: bool = True) -> Workspace:
    ws = load_workspace(session.repo, policy_ref, check_files=check_files)
    if ws.errors:
        raise InvalidInput(ws.problems)
    session.use(ws)
    return ws


def events_of(session: Session, ws: Workspace):
    return read_events(session.git, history_refs(session.git, session.remote), ws.plan.policy,
                       arrivals_for=ws.plan.revision)


def state_of(session: Session, ws: Workspace, now: int) -> RolloutState:
    return fold_events(session.delivery, session.git, session.remote, ws, events_of(session, ws), now)


def fold_events(delivery, git: Git, remote: str | None, ws: Workspace, events, now: int,
                at_revision: dict[str, bool] | None = None) -> RolloutState:
    """The rollout's state from its events and the delivery's proposals of its epoch."""
    plan = ws.plan
    proposals = delivery.proposals(git, remote, plan, epoch_of(events, plan.policy, plan.revision))
    return fold(plan, events, now, at_revision, proposals)


# --- advance --------------------------------------------------------------------------


def advance(repo: Path, policy_ref: str, wave: str | None = None, dry_run: bool = False, push: bool | None = None,
            message: str | None = None, force: bool = False, now: int | None = None,
            delivery: str | None = None) -> Outcome:
    """Advance wave `wave`, or every wave that is ready (its dependencies passed: bake
    elapsed and, for gated waves, a recorded gate pass)."""
    session = open_session(repo, push, writing=not dry_run, delivery=delivery)
    if not dry_run:
        sync(session)

    def attempt():
        ws = load(session, policy_ref)
        state = state_of(session, ws, clock(now))
        outcome = Outcome(ws.plan.policy, ws.plan.revision, ws=ws, state=state)
        chosen = _choose(ws, state, wave, force, outcome, hold_of(session.git, ws.plan.policy, clock(now),
                                                                   history_refs(session.git, session.remote)))
        base = session.git.head()
        if not chosen:
            return outcome, base, base
        with bulk():
            tip = _build(session, ws, state, chosen, outcome, base, message, dry_run)
        return outcome, base, base if dry_run else tip

    return _publish(session, attempt)  # which puts the session's notes first


def _publish(session: Session, attempt, urgent: bool = False, record: bool = False) -> Outcome:
    """Run `attempt() -> (outcome, base, tip)` until its commits land, as the session's
    delivery does it (rollout/delivery/): only published commits move the local branch.
    The delivery is the policy's, known once the first attempt loaded it: that attempt's
    result is the delivery's first."""
    if session.delivery is None:
        first = [attempt()]

        def again():
            return first.pop() if first else attempt()

        return session.delivery.publish(session, again, urgent=urgent, record=record)
    return session.delivery.publish(session, attempt, urgent=urgent, record=record)


def _wave(plan, ref: str):
    try:
        return plan.wave(int(ref) if ref.isdigit() else ref)
    except KeyError:
        known = ", ".join(f"{w.number} {w.name}" for w in plan.waves)
        raise UsageError(f"--wave {ref}: no such wave (waves: {known})") from None


def _choose(ws: Workspace, state: RolloutState, wave: str | None, force: bool, outcome: Outcome, hold: Hold):
    """[(wave number, clusters to pin, late join?, forced-past reasons, forced past a window?)].
    A pause holds every start; a change window holds a wave's first start (`--force` passes it)."""
    plan = ws.plan
    if hold.paused:
        outcome.paused = True
        if wave is not None:
            raise Refused(hold.pause_note())
        outcome.held.append(hold.pause_note())
        outcome.notes.append(hold.pause_note())
        return []
    if wave is not None:
        target = _wave(plan, wave)
        ws_state = state.wave(target.number)
        if ws_state.status == "reverted":
            raise Refused(f"wave {target.number} {target.name} was reverted for {plan.revision}; "
                          "a new revision starts a new rollout")
        if ws_state.status == "proposed":
            outcome.notes.append(f"wave {target.number} {target.name} is already proposed: "
                                 f"{ws_state.proposal.describe()} waits to be merged")
            return []
        if ws_state.status in OUT:
            if ws_state.late:
                return [(target.number, ws_state.late, True, [], False)]
            outcome.notes.append(f"wave {target.number} {target.name} is already advanced ({ws_state.status}): nothing to do")
            return []
        reasons = blockers(plan, state, target.number)
        window = hold.window(target)
        if not window.open:
            reasons.append(window.describe())
        if reasons and not force:
            raise Refused(f"wave {target.number} {target.name} must wait: " + "; ".join(reasons) + " (--force to override)")
        return [(target.number, list(target.clusters), False, reasons, not window.open)]

    # every wave that may go: what `rollout run` would start, without judging any gate
    decided = decide(plan, state, {}, hold)
    chosen = [(a.wave, list(a.clusters), a.late, [], False) for a in of(decided, START)]
    outcome.held += [f"wave {a.wave} {a.name}: {a.reason}" for a in of(decided, WAIT) if a.wave is not None]
    stopped = [a.reason for a in of(decided, WAIT) if a.wave is None]  # a reverted wave: nothing new starts
    if stopped:
        outcome.notes += stopped
        return []
    if not chosen and outcome.held:
        outcome.notes += outcome.held
    elif not chosen:
        waiting = [w for w in state.waves if w.status in ("pending", "proposed", "baking", "verifying")]
        if not waiting:
            outcome.notes.append(f"rollout {state.overall}: nothing to advance")
        else:
            pending = [w for w in state.waves if w.status == "pending"]
            if pending:
                w = pending[0]
                outcome.notes.append(f"wave {w.number} {w.name} waits: " + "; ".join(blockers(plan, state, w.number)))
            else:
                outcome.notes += ["; ".join(blockers(plan, state, w.number, itself=True))
                                  for w in state.waves if w.status in ("proposed", "baking", "verifying")]
    return chosen


def _build(session, ws, state, chosen, outcome, base, message, dry_run) -> str:
    """One commit per wave, chained on `base`; returns the last commit (or base)."""
    plan, policy = ws.plan, ws.loaded.policy
    digest = policy_digest(ws.loaded.text)
    inspected = {(t.cluster, t.pin_index): t for t in ws.inspection.targets}
    labels = {c.name: c.labels for c in plan.targets}
    texts: dict[str, str] = {}  # file -> text after the edits so far
    originals = {t.file: t.text for t in ws.inspection.targets}
    modes = session.git.modes(base) if not dry_run else {}
    tip = base
    for number, clusters, late, forced, past_window in chosen:
        wave = plan.wave(number)
        if not session.delivery.chains:  # each wave's commit sits on the branch's tip, in its own pull request
            tip, texts = base, {}
        changes: dict[str, str] = {}
        before = dict(texts)  # this wave's diff starts where the previous wave left off
        pinned = []
        for cluster in clusters:
            for target in plan.pins[cluster]:
                item = inspected[(cluster, target.pin_index)]
                text = texts.get(target.file, item.text)
                try:
                    if target.file not in texts and item.current is not None:
                        result = item.current  # inspect already pinned this very text
                    else:
                        result = pin_text(text, policy.spec.pin[target.pin_index], cluster, labels[cluster],
                                          plan.revision, target.file)
                except PinError as err:
                    raise InvalidInput([Problem(f"cluster {cluster}: {err.message}", (), str(session.repo / target.file),
                                                line=err.line)]) from None
                if result.text != text:
                    texts[target.file] = changes[target.file] = result.text
                pinned.append((cluster, target.file))
        change = WaveChange(number, wave.name, ADVANCE, clusters, sorted(changes), late=late, forced=forced)
        outcome.changes.append(change)
        if dry_run:
            change.diff = _diff({f: before.get(f, originals[f]) for f in changes}, changes)
            continue
        msg = advance_message(plan.policy, plan.revision, number, wave.name, pinned, digest, late=late,
                              forced=forced, note=message, forced_window=past_window, epoch=state.epoch)
        if changes:
            tip = session.git.commit_on(tip, {f: t.encode() for f, t in changes.items()}, msg, modes)
        else:
            tip = session.git.commit_empty_on(tip, msg)  # already pinned by hand: record it
        change.commit = tip
    return tip


def _diff(before: dict[str, str], after: dict[str, str]) -> str:
    out = []
    for file in sorted(after):
        out += difflib.unified_diff(before[file].splitlines(True), after[file].splitlines(True),
                                    f"a/{file}", f"b/{file}")
    return "".join(out)


# --- revert ---------------------------------------------------------------------------


def revert(repo: Path, policy_ref: str, wave: str | None, all_waves: bool, reason: str, push: bool | None = None,
           now: int | None = None, delivery: str | None = None) -> Outcome:
    """Re-pin each cluster of the wave(s) to the value it had before the wave's advance
    commit, one commit per wave. Idempotent: a reverted wave is left alone."""
    if not reason.strip():
        raise UsageError("--reason must say why")
    session = open_session(repo, push, delivery=delivery)
    sync(session)

    def attempt():
        ws = load(session, policy_ref, check_files=False)  # no file checks: a revert must work even if pins broke
        events = events_of(session, ws)
        state = fold(ws.plan, events, clock(now))
        outcome = Outcome(ws.plan.policy, ws.plan.revision, ws=ws, state=state)
        if all_waves:
            numbers = [w.number for w in reversed(state.out)]
        else:
            numbers = [_wave(ws.plan, wave).number]
        base = tip = session.git.head()
        for number in numbers:
            tip = _revert_wave(session, ws, state, events, number, reason, base if not session.delivery.chains else tip,
                               outcome)
        return outcome, base, tip

    return _publish(session, attempt, urgent=True)


def _revert_wave(session, ws, state, events, number, reason, tip, outcome, advance: str | None = None) -> str:
    plan, policy = ws.plan, ws.loaded.policy
    wave, ws_state = plan.wave(number), state.wave(number)
    if ws_state.status == "reverted":
        outcome.notes.append(f"wave {number} {wave.name} is already reverted: nothing to do")
        return tip
    if ws_state.status == "pending":
        outcome.notes.append(f"wave {number} {wave.name} was never advanced: nothing to revert")
        return tip
    # Each cluster goes back to what its files held just before the commit that pinned it;
    # where that was the revision already (an earlier epoch had pinned it: a retry, a wave
    # that passed before), to what they held before that epoch's advance, and so on back.
    parents_of: dict[str, list[str]] = {}
    for event in events:
        if event.action == ADVANCE and event.policy == plan.policy and event.revision == plan.revision \
                and event.epoch == state.epoch and event.wave == wave.name:
            for cluster in event.clusters:
                parents_of.setdefault(cluster, [f"{event.commit}^"])
    for event in reversed(events):
        if event.action == ADVANCE and event.policy == plan.policy and event.revision == plan.revision \
                and event.epoch < state.epoch:
            for cluster in event.clusters:
                if cluster in parents_of:
                    parents_of[cluster].append(f"{event.commit}^")
    labels = {c.name: c.labels for c in plan.targets}
    current_texts = session.git.read_files(tip, sorted({t.file for c in parents_of for t in plan.pins.get(c, [])}))
    before_texts: dict[tuple[str, str], bytes | None] = {}
    for parent in {p for parents in parents_of.values() for p in parents}:
        files = sorted({t.file for c, ps in parents_of.items() if parent in ps for t in plan.pins.get(c, [])})
        for file, content in session.git.read_files(parent, files).items():
            before_texts[(parent, file)] = content
    texts: dict[str, str] = {}
    restored = []
    for cluster, parents in sorted(parents_of.items()):
        if cluster not in plan.pins:
            outcome.notes.append(f"cluster {cluster} left the inventory: its files are left alone")
            continue
        for target in plan.pins[cluster]:
            pin = policy.spec.pin[target.pin_index]
            now_text = texts.get(target.file) or (current_texts.get(target.file) or b"").decode()
            try:
                current = pin_text(now_text, pin, cluster, labels[cluster], plan.revision, target.file)
                if current.old != plan.revision:
                    outcome.notes.append(f"cluster {cluster}: {target.file} holds {current.old!r}, not "
                                         f"{plan.revision}: left alone")
                    continue
                previous = None
                for parent in parents:
                    old = before_texts.get((parent, target.file))
                    if old is None:
                        break
                    previous = pin_text(old.decode(), pin, cluster, labels[cluster], plan.revision, target.file)
                    if previous.old != plan.revision:
                        break
                if previous is None:
                    outcome.notes.append(f"cluster {cluster}: {target.file} did not exist before: left alone")
                    continue
                if previous.old == plan.revision:
                    outcome.notes.append(f"cluster {cluster}: {target.file} held {plan.revision} before every "
                                         "advance of it: left alone")
                    continue
                result = pin_text(now_text, pin, cluster, labels[cluster], previous.old, target.file,
                                  raw=previous.old_raw)
            except PinError as err:
                raise InvalidInput([Problem(f"cluster {cluster}: {err.message}", (), str(session.repo / target.file),
                                            line=err.line)]) from None
            if result.text != now_text:
                texts[target.file] = result.text
            restored.append((cluster, target.file))
    digest = policy_digest(ws.loaded.text)
    msg = revert_message(plan.policy, plan.revision, number, wave.name, restored, reason, digest,
                         advance or ws_state.advance_commit, epoch=state.epoch)
    modes = session.git.modes(tip)
    if texts:
        tip = session.git.commit_on(tip, {f: t.encode() for f, t in texts.items()}, msg, modes)
    else:
        tip = session.git.commit_empty_on(tip, msg)
    outcome.changes.append(WaveChange(number, wave.name, "revert", [c for c, _ in restored], sorted(texts), commit=tip))
    return tip


# --- approve --------------------------------------------------------------------------


def _folded(session: Session, policy_ref: str, now: int | None) -> tuple[Workspace, RolloutState]:
    """The policy (without reading the pinned files) and its state, for empty-commit records."""
    ws = load(session, policy_ref, check_files=False)
    return ws, state_of(session, ws, clock(now))


def approve(repo: Path, policy_ref: str, wave: str, by: str, push: bool | None = None, now: int | None = None,
            delivery: str | None = None) -> Outcome:
    """Record that a person approved wave `wave` (`approval: required`): an empty commit
    with `Rollout-Action: approve`; the waves after it may then go. Idempotent."""
    if not by.strip():
        raise UsageError("--by must name who approves")
    session = open_session(repo, push, delivery=delivery)
    sync(session)

    def attempt():
        ws, state = _folded(session, policy_ref, now)
        plan = ws.plan
        target = _wave(plan, wave)
        ws_state = state.wave(target.number)
        outcome = Outcome(plan.policy, plan.revision, ws=ws, state=state)
        base = session.git.head()
        if target.approval != "required":
            outcome.notes.append(f"wave {target.number} {target.name} does not require approval: nothing to do")
            return outcome, base, base
        if ws_state.approved_by:
            outcome.notes.append(f"wave {target.number} {target.name} is already approved by {ws_state.approved_by}")
            return outcome, base, base
        if ws_state.status not in OUT:
            raise Refused(f"wave {target.number} {target.name} is {ws_state.status}: approve it once it has been advanced")
        message = approve_message(plan.policy, plan.revision, target.number, target.name, by,
                                  policy_digest(ws.loaded.text), epoch=state.epoch)
        tip = session.git.commit_empty_on(base, message)
        outcome.changes.append(WaveChange(target.number, target.name, "approve", [], [], commit=tip))
        return outcome, base, tip

    return _publish(session, attempt)


# --- status ---------------------------------------------------------------------------


def status(repo: Path, policy_ref: str, now: int | None = None) -> tuple[Workspace, RolloutState]:
    ws = load_workspace(repo, policy_ref)
    if ws.errors:
        raise InvalidInput(ws.problems)
    git = Git(repo)
    if git.toplevel() is None:
        raise UsageError(f"{repo}: not a git repository")
    _finish_interrupted_move(git)
    from rollout.delivery import delivery_for

    now_ = clock(now)
    remote = followed_remote(git)
    events = read_events(git, history_refs(git, remote), ws.plan.policy, arrivals_for=ws.plan.revision)
    with bulk():
        at_revision = _at_revision(repo, ws)
    return ws, fold_events(delivery_for(ws.loaded.policy.spec.delivery), git, remote, ws, events, now_, at_revision)


def _finish_interrupted_move(git: Git) -> None:
    """`status` reads HEAD: a move a killed run left journaled is finished first (the
    commit is published already), unless a live rollout in this checkout is on it."""
    import sys

    if checkout.pending(git) is not None and checkout.hold(git, wait=0):
        for note in checkout.resume(git):
            print(f"rollout: {note}", file=sys.stderr)


def _at_revision(repo: Path, ws: Workspace) -> dict[str, bool]:
    """Which clusters' files hold the revision now: parsed once per file."""
    plan, policy = ws.plan, ws.loaded.policy
    labels = {c.name: c.labels for c in plan.targets}
    parsed: dict[str, object] = {}
    out = {}
    for cluster, targets in plan.pins.items():
        ok = True
        for target in targets:
            if target.file not in parsed:
                try:
                    text = (repo / target.file).read_text()
                    parsed[target.file] = (text, parse(text, target.file))
                except (OSError, PinError):
                    parsed[target.file] = None
            entry = parsed[target.file]
            if entry is None:
                ok = False
                continue
            try:
                result = pin_text(entry[0], policy.spec.pin[target.pin_index], cluster, labels[cluster],
                                  plan.revision, target.file, located=entry[1])
                ok = ok and result.old == plan.revision
            except PinError:
                ok = False
        out[cluster] = ok
    return out


__all__ = ["advance", "approve", "revert", "status", "Outcome", "Refused", "InvalidInput", "GitError"]
