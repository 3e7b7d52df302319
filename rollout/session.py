"""The session: the bottom room of the shell, under every command (advance, revert, approve,
pause, retry, the step). It opens the checkout (one writer at a time, an interrupted move
finished first), syncs with the remote, reads the clock, loads the policy and folds its
history, and publishes what a command built through the policy's delivery.

Every run is stateless: it folds the rollout's state from the Git history (one `git log`)
and the files, decides, and records what it did as commits with trailers. Commits are
built with plumbing on top of a base (rollout/git/repo.py), published, and only then is
the local branch fast-forwarded: a rejected push, an error or a `kill -9` leaves the
working tree and the branch as they were, and a re-run starts over cleanly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from waves.recorded import with_waves_out
from waves.state import RolloutState, epoch_of, fold, off_now
from rollout.clock import CLOCK_OVERRIDE, clock
from rollout.delivery import delivery_for
from rollout.errors import InvalidInput, Refused
from rollout.git import checkout
from rollout.git.history import history_refs, pin_changes, read_events
from rollout.git.repo import Git, Upstream
from rollout.outcome import Outcome
from rollout.recorded import degrade
from rollout.reuse import found_values
from rollout.trust import pinned_now, screen_for, unreleased
from rollout.workspace import UsageError, Workspace, load_workspace


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
    clean: bool = False  # `git status` showed nothing when the session opened

    @property
    def remote(self) -> str | None:
        return self.upstream.remote if self.upstream else None

    def who(self, by: str | None) -> str:
        """Who a record names: `--by`, else git's user.name."""
        return (by or "").strip() or self.git.identities()[0].rsplit(" <", 1)[0]

    def sync(self) -> None:
        """Fetch and fast-forward to the remote branch (`sync` below): what a delivery does
        after another runner moved the branch."""
        sync(self)

    def use(self, ws: Workspace) -> None:
        """Take the policy's delivery (or --delivery's) and check it is set up (exit 2)."""
        if self.delivery is None:
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
    return Session(repo, git, branch, upstream, do_push, notes, override=delivery, writing=writing, clean=not dirty)


def open_synced(repo: Path, push: bool | None, delivery: str | None = None) -> Session:
    """A writing session on what is published: opened, then synced with the remote."""
    session = open_session(repo, push, delivery=delivery)
    sync(session)
    return session


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
        git.clean_at = head if session.clean else None  # the checks' cache needs no second `git status`
        return
    if git.is_ancestor(head, remote):
        git.fast_forward(remote)
    elif git.is_ancestor(remote, head):
        raise Refused(f"{session.branch} has commits not on {up.remote}/{up.branch}: push or drop them first")
    else:
        raise Refused(f"{session.branch} and {up.remote}/{up.branch} have diverged: reconcile them first")


def load(session: Session, policy_ref: str, check_files: bool = True, reuse: bool = False,
         strict: bool = True) -> Workspace:
    """The policy, its inventory and plan. `reuse`: the plan and the checks' verdict kept
    for the same inputs (rollout/reuse.py), for a look that writes nothing; what a command
    writes is decided on files read afresh (a live inventory is never reused). `strict`
    False: shared-field conflicts are warnings (a revert must go whatever the inventory
    became). A live inventory source that cannot be read once the rollout has started:
    the waves out, from their advance records (rollout/recorded.py: judged and reverted,
    nothing advances); before it started, exit 2."""
    ws = load_workspace(session.repo, policy_ref, check_files=check_files, reuse=session.git if reuse else None,
                        strict=strict)
    if ws.hub_down and all(p.extra.get("hub") is not None for p in ws.errors):
        ws = degrade(session.git, session.remote, ws, check_files) or ws
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
                at_revision: dict[str, bool] | None = None, after: set[str] | None = None) -> RolloutState:
    """The rollout's state from its events that count (spec.trust: rollout/trust.py) and
    the delivery's proposals of its epoch. `at_revision` (which clusters' files hold the
    revision) defaults to what the files checked say, when the workspace checked them; a
    cluster pinned by this epoch and off the revision now has its files' history read (one
    `git log`, only then): why it is off (waves/drift.py). `after`: the state after a step's
    own writes, on the files as read before them: the clusters its advances pinned (`after`)
    hold the revision now, and why the others are off is what was read then."""
    screen = screen_for(git, ws)
    counted, ignored, unsigned = screen.screen(events)
    # a wave out whose every cluster left the inventory since is planned back from its records
    # (never dropped: what waits for it would go on); the workspace's plan is that one from here on
    plan = ws.plan = with_waves_out(ws.plan, ws.loaded.policy, counted)
    proposals = delivery.proposals(git, remote, plan, epoch_of(counted, plan.policy, plan.revision),
                                   screen.good if screen.trust is not None else None)
    if after is not None:  # the files and their history as read before this step's writes
        known, changes, found = getattr(ws, "_drift_read", (at_revision, None, None))
        known = {**known, **dict.fromkeys(after, True)} if known is not None else None
    else:
        known = at_revision if at_revision is not None else pinned_now(ws, git)
        off = off_now(plan, counted, known)
        changes = found = None
        if off:  # rare: a cluster the epoch pinned is off the revision now (came back on an old pin, a hand edit)
            pins = {p for commits in off.values() for p in commits}
            since = next((e.commit for e in counted if e.commit in pins), None)
            changes = pin_changes(git, off, {c: [t.file for t in plan.pins.get(c, ())] for c in off}, since)
            found = found_values(ws, off)  # what their files hold now: theirs only, never the fleet's
        ws._drift_read = (known, changes, found)
    state = fold(plan, counted, now, known, proposals, changes, found)
    if screen.trust is None:
        return state
    ours = {e.commit for e in events if e.revision == plan.revision}
    state.verified = True
    state.ignored = [i for i in ignored if i.commit in ours]
    state.unsigned = [i for i in unsigned if i.commit in ours]
    state.blocked = [screen.blocked] if screen.blocked else []
    state.blocked += unreleased(git, ws, state, counted, known)
    return state


def folded(session: Session, policy_ref: str, now: int | None) -> tuple[Workspace, RolloutState]:
    """The policy (without reading the pinned files) and its state, for empty-commit records."""
    ws = load(session, policy_ref, check_files=False)
    return ws, state_of(session, ws, clock(now))


def publish(session: Session, attempt, urgent: bool = False, record: bool = False) -> Outcome:
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


def wave_ref(plan, ref: str):
    """`--wave`: a wave's number (its place in the plan) or its name (`canary`,
    `region-eu-west`, `production/2`). A name made of digits that is also another wave's
    number is refused as ambiguous; a policy wave split into parts names its parts."""
    ref = ref.strip()
    named = next((w for w in plan.waves if w.name == ref), None)
    numbered = next((w for w in plan.waves if ref.isdigit() and w.number == int(ref)), None)
    if named is not None and numbered is not None and named is not numbered:
        raise UsageError(f"--wave {ref}: ambiguous: wave {numbered.number} is {numbered.name}, and wave "
                         f"{named.number} is named {ref}")
    if named or numbered:
        return named or numbered
    parts = [w for w in plan.waves if _policy_wave(w) == ref]
    if parts:
        raise UsageError(f"--wave {ref}: wave {ref} is planned as {len(parts)} waves: "
                         + ", ".join(f"{w.number} {w.name}" for w in parts) + "; name one")
    known = ", ".join(f"{w.number} {w.name}" + (" (empty)" if w.empty else "") for w in plan.waves)
    if getattr(plan, "partial", None):  # the waves out only, from their records: the others cannot be told
        raise UsageError(f"--wave {ref}: not among the waves that are out ({known}): the inventory cannot be read "
                         f"({plan.partial}), so only they are known")
    raise UsageError(f"--wave {ref}: no such wave (waves: {known})")


def _policy_wave(wave) -> str:
    """The name of the policy wave a planned wave is part of (`production/2` -> production,
    `region-eu-west` -> region)."""
    name = wave.name.rsplit("/", 1)[0] if wave.batch is not None else wave.name
    return name[: -len(wave.group) - 1] if wave.group is not None else name
