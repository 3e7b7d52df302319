"""Pull-request delivery: for teams whose followed branch is protected (docs/delivery.md).

Each change (an advance, a late join, a revert, an approval) is the same commit as under
push delivery, built on the branch's tip and pushed as its own branch

    rollout/<policy>/<revision>/[epoch-<e>/]wave-<n>[-late-<digest>|-revert|-revert-late-<digest>|-approve]

with one pull request (`epoch-<e>/` from the second epoch of a revision on: an earlier
epoch's branches never lock a later one's). The branch name is the lock: pushing it is never forced while it
is new, so of two racing runners one creates it and the other finds it; a forge refuses a
second open pull request for one branch. `rollout run` tends the open ones first: it
merges what the forge reports mergeable with its required checks green (autoMerge), it
rebuilds on the branch's new tip what the branch left behind (a forced push of the
rollout's *own* branch, under a lease; never of the followed branch), and it halts on a
pull request a person closed. Records that change no manifest (a wave's gates passed, a
pause) go to the `rollout/records` branch: the state fold reads it beside HEAD.
"""

from __future__ import annotations

import hashlib
import re

from rollout.delivery import Tending
from rollout.delivery.carry import carried
from waves.decide import start_held
from waves.state import FIRST_EPOCH
from rollout.errors import Refused
from rollout.git.history import RECORDS, approval_trailers, listed_files, parse_event
from rollout.outcome import Outcome, WaveChange
from rollout.trust import own_principals, screen_for
from waves.trust import FORGE_IDENTITIES, admits, approver

MAX_ATTEMPTS = 5
_CONNECTED: dict = {}  # (repo, remote URL, provider, token variable, the CI variables' values) -> Forge
_LISTED = 50  # clusters named in a pull request's body
_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")  # what a ref name may not hold (git check-ref-format), and more


def _safe(part: str) -> str:
    cleaned = _UNSAFE.sub("-", part).replace("..", "-").strip("./-")
    return cleaned or "x"


def policy_prefix(policy: str) -> str:
    """The branch prefix of every rollout of one policy, whatever its revision."""
    return f"rollout/{_safe(policy)}/"


def prefix(policy: str, revision: str, epoch: int | None = None) -> str:
    """The branch prefix of one revision's rollouts, or of one epoch of it."""
    base = f"{policy_prefix(policy)}{_safe(revision).replace('/', '-')}/"
    return base if epoch in (None, FIRST_EPOCH) else f"{base}epoch-{epoch}/"


def epoch_of_branch(branch: str, policy: str, revision: str) -> int | None:
    """The epoch a branch of the revision's rollouts is of; None for another revision's."""
    base = prefix(policy, revision)
    if not branch.startswith(base):
        return None
    first, _, rest = branch[len(base):].partition("/")
    if rest and first.startswith("epoch-") and first[len("epoch-"):].isdigit():
        return int(first[len("epoch-"):])
    return FIRST_EPOCH if not rest else None


def branch_name(policy: str, revision: str, number: int, action: str, clusters=(), late: bool = False,
                epoch: int = FIRST_EPOCH) -> str:
    name = f"{prefix(policy, revision, epoch)}wave-{number}"
    if action in ("advance", "revert") and late:  # a late join, or its revert: one branch each, by its clusters
        digest = hashlib.sha256(",".join(sorted(clusters)).encode()).hexdigest()[:8]
        return name + ("-late-" if action == "advance" else "-revert-late-") + digest
    return name if action == "advance" else f"{name}-{action}"


class Delivery:
    name = "pull-request"
    chains = False

    def __init__(self, spec):
        self.spec = spec
        self._forge = None

    # --- the forge ------------------------------------------------------------------
    def forge(self, session):
        """The connected forge; one per process and repository, so that a step's several
        sessions (tend, then verify/advance) check the token once, not once each."""
        if self._forge is None:
            import os

            from rollout.delivery.forge import VARIABLES, connect

            url = session.git.run("remote", "get-url", session.remote, check=False).strip() if session.remote else ""
            token_env = self.spec.tokenFrom.env if self.spec.tokenFrom else None
            key = (str(session.repo), url, self.spec.provider, token_env,
                   tuple(os.environ.get(v) for v in (*VARIABLES, token_env or "")))
            if key not in _CONNECTED:
                _CONNECTED[key] = connect(session.repo, url, self.spec.provider, token_env)
            self._forge = _CONNECTED[key]
        return self._forge

    def preflight(self, session) -> None:
        from rollout.workspace import UsageError

        if not session.push or session.upstream is None:
            raise UsageError("pull-request delivery needs the branch's remote: push the branch once "
                             f"(git push -u <remote> {session.branch}); --no-push cannot open pull requests")
        problem = self.forge(session).landing_problem(self.spec.mergeMethod)
        if problem:
            raise UsageError(problem)

    # --- reading --------------------------------------------------------------------
    def record_base(self, session) -> str:
        return session.git.rev(f"refs/remotes/{session.remote}/{RECORDS}") or session.git.head()

    def flights(self, git, remote: str | None, plan, epoch: int) -> list[dict]:
        """The epoch's fetched branches: {"branch", "commit", "parent", "event"} each (one process)."""
        if remote is None:
            return []
        root = f"refs/remotes/{remote}/"
        out = []
        for ref, commit, parent, message in git.refs_under(root + prefix(plan.policy, plan.revision, epoch)):
            event = parse_event(commit, 0, message)
            if event is not None and event.policy == plan.policy and event.revision == plan.revision \
                    and event.epoch == epoch and epoch_of_branch(ref[len(root):], plan.policy, plan.revision) == epoch:
                out.append({"branch": ref[len(root):], "commit": commit, "parent": parent, "event": event})
        return out

    def proposals(self, git, remote, plan, epoch: int, admits=None) -> dict:
        """`admits(commit)`: whether a branch's commit may count (spec.trust: signed by an
        allowed signer); a branch anyone pushed must not stand for the wave's proposal."""
        from waves.state import Proposal

        out: dict[str, Proposal] = {}
        for flight in self.flights(git, remote, plan, epoch):
            event = flight["event"]
            if event.action != "advance" or (admits is not None and not admits(flight["commit"])):
                continue
            had = out.get(event.wave) or Proposal(None)
            if "-late-" in flight["branch"].rsplit("/", 1)[-1]:
                out[event.wave] = Proposal(had.branch, late=tuple(sorted({*had.late, *event.clusters})))
            else:
                out[event.wave] = Proposal(flight["branch"], late=had.late)
        return out

    # --- publishing -----------------------------------------------------------------
    def publish(self, session, attempt, urgent: bool = False, record: bool = False):
        if record:
            return self._record(session, attempt)
        if urgent and self.spec.revert == "push":
            from rollout.delivery.push import Delivery as Push

            return Push().publish(session, attempt, urgent=True)
        outcome, base, tip = attempt()
        outcome.notes[:0] = session.notes
        if tip == base:
            return outcome
        forge, git = self.forge(session), session.git
        proposed = []
        for change in outcome.changes:
            branch = branch_name(outcome.policy, outcome.revision, change.number, change.action, change.clusters,
                                 change.late, outcome.state.epoch if outcome.state is not None else FIRST_EPOCH)
            pushed = git.push_ref(session.remote, change.commit, f"refs/heads/{branch}")
            if pushed is None:  # the lock is taken: another runner (or an earlier run) proposed it
                git.fetch_refs(session.remote, [f"+refs/heads/{branch}:refs/remotes/{session.remote}/{branch}"])
                change.commit = git.rev(f"refs/remotes/{session.remote}/{branch}") or change.commit
                outcome.notes.append(f"wave {change.number} {change.name}: {branch} exists already: "
                                     "proposed by another run")
            else:
                git.run("update-ref", f"refs/remotes/{session.remote}/{branch}", change.commit)
            request = self._ensure(session, forge, branch, change, outcome, base, urgent)
            change.proposal = {"number": request.number, "url": request.url, "branch": branch, "ref": request.ref}
            proposed.append(change)
        outcome.changes, outcome.proposed = proposed, bool(proposed)
        return outcome

    def _ensure(self, session, forge, branch, change, outcome, base, urgent: bool):
        """The open pull request of `branch`: found, or opened (once, even when racing)."""
        from rollout.delivery.forge import AlreadyExists, ForgeError

        found = forge.find(branch)
        if found is not None and found.state == "open":
            return found
        title = session.git.run("log", "-1", "--format=%s", change.commit).strip()
        body = self.body(session, change, outcome, base)
        labels = tuple(self.spec.labels) + (tuple(self.spec.revertLabels) if urgent else ())
        try:
            return forge.open(branch, session.upstream.branch, title, body, labels, tuple(self.spec.reviewers),
                              self.spec.draft and not urgent)
        except AlreadyExists:
            found = forge.find(branch)  # a racing runner's: the forge's listing may lag its creation
            if found is None:
                raise ForgeError(f"{forge.name}: a pull request for {branch} exists but is not listed yet; "
                                 "run again") from None
            return found

    def body(self, session, change, outcome, base) -> str:
        """What a reviewer needs: the wave, its clusters and files, the diff's size, the
        plan with the DAG, and the trailers (so a squash of the description keeps them)."""
        from rollout.render.words import count

        git = session.git
        message = git.run("log", "-1", "--format=%B", change.commit)
        stat = git.run("diff", "--shortstat", base, change.commit, check=False).strip() or "no file changes"
        verb = {"advance": "advances", "revert": "reverts", "approve": "approves"}.get(change.action, change.action)
        files = listed_files(message)  # cluster -> its files, as the commit lists them
        clusters = list(dict.fromkeys(change.clusters))
        counted = count(len(clusters), "cluster")
        if clusters:
            counted += ", " + count(len({f for c in clusters for f in files.get(c, [])} | set(change.files)), "file")
        lines = [f"Merging this pull request **{verb}** wave {change.number} **{change.name}** of rollout "
                 f"`{outcome.policy}` to `{outcome.revision}` ({counted}).", ""]
        if change.action == "revert":
            lines += ["> [!WARNING]", "> A gate failed: this puts the wave back on its previous pins. Merge it now.", ""]
        if clusters:
            lines += ["| cluster | files |", "|---|---|"]
            for cluster in clusters[:_LISTED]:
                lines.append(f"| `{cluster}` | {', '.join(f'`{f}`' for f in files.get(cluster, [])) or '—'} |")
            if len(clusters) > _LISTED:
                lines.append(f"| and {len(clusters) - _LISTED} more | |")
            lines.append("")
        lines += [f"**Diff:** {stat}, on `{session.upstream.branch}` at `{base[:12]}`.", ""]
        if outcome.ws is not None and outcome.state is not None:
            from rollout.render.status_markdown import render

            lines += ["<details><summary>The plan</summary>", "", render(outcome.ws.plan, outcome.state), "</details>", ""]
        lines += ["Opened by `rollout`; `rollout run` merges it when it is mergeable and its checks are green"
                  if self.spec.autoMerge else "Opened by `rollout`; merging it (a person) is the approval.", ""]
        trailers = [line for line in message.strip().split("\n\n")[-1].splitlines() if line.startswith("Rollout-")]
        return "\n".join(lines + trailers) + "\n"

    def _record(self, session, attempt):
        """Records (verify, pause) on the records branch: pushed, never forced, retried
        on a race like the followed branch under push delivery."""
        ref = f"refs/remotes/{session.remote}/{RECORDS}"
        for _ in range(MAX_ATTEMPTS):
            outcome, base, tip = attempt()
            outcome.notes[:0] = session.notes
            if tip == base:
                return outcome
            pushed = session.git.push_ref(session.remote, tip, f"refs/heads/{RECORDS}")
            if pushed is None:
                session.git.fetch_refs(session.remote, [f"+refs/heads/{RECORDS}:{ref}"])
                continue
            session.git.run("update-ref", ref, tip)
            outcome.pushed = pushed == "moved"
            return outcome
        raise Refused(f"{RECORDS} kept moving: gave up after {MAX_ATTEMPTS} attempts; run again")

    # --- tending (rollout run) ----------------------------------------------------------
    def tend(self, session, ws, state, hold=None, advances: bool | None = None) -> Tending:
        """Merge, rebuild or halt on each of the rollout's pull requests still in flight:
        one list call, plus one call per pull request that needs a look. Every request is
        looked at before anything is merged or rebuilt: one reason to halt stops them all.
        `advances`: False, everything but an advance's rebuild or merge (`run` before it
        judges the waves out: merging an advance is its wave's start, which this step's
        verdicts decide; what holds one is said here); True, the advances' only, their holds
        not said again (after a decision that reverts and halts nothing); None, all."""
        tending = Tending()
        git, plan = session.git, ws.plan
        flights = [f for f in self.flights(git, session.remote, plan, state.epoch) if _in_flight(f["event"], state)]
        reverting = next((f"the revert of wave {f['event'].wave} waits in its pull request ({f['branch']})"
                          for f in flights if f["event"].action == "revert"), None)
        # merging an advance is its wave's start: a pause holds it, and so do a halt, the revision reverted or its
        # revert waiting in a pull request (decide's rule; a revert still goes); said in the step's first look
        stop = (hold.pause_note() if hold is not None and hold.paused else None) or state.stopped or reverting
        starts = [f for f in flights if f["event"].action == "advance"]
        if stop and advances is not True:
            tending.notes += [f"{f['branch']} waits: {stop}" for f in starts]
        if stop or advances is False:  # False: their rebuild or merge waits for this step's verdicts (the second look)
            flights = [f for f in flights if f not in starts]
        elif advances:
            flights = starts
        if not flights:
            return tending
        screen = screen_for(git, ws)
        if screen.trust is not None:  # spec.trust: the bot opens, rebuilds (re-signs) and merges only what
            # an allowed signer made, and nothing while a change it cannot vouch for stands
            if state.blocked:
                tending.notes.append("pull requests are not tended: " + "; ".join(f"halted by spec.trust: {b.line()}"
                                                                                   for b in state.blocked))
                return tending
            unsigned = [f for f in flights if not screen.good(f["commit"])]
            tending.notes += [f"{f['branch']} ({f['commit'][:12]}) is not signed by an allowed signer: left alone "
                              "(spec.trust); delete the branch to have it proposed again" for f in unsigned]
            flights = [f for f in flights if f not in unsigned]
            if not flights:
                return tending
        forge = self.forge(session)
        opened = {}
        for request in forge.open_requests(policy_prefix(plan.policy)):  # the same one call: the policy's, of every revision
            epoch = epoch_of_branch(request.branch, plan.policy, plan.revision)
            if epoch == state.epoch:
                opened[request.branch] = request
            elif epoch is not None:  # an earlier epoch's, left open: merging it would count for nothing
                tending.notes.append(f"{request.ref} ({request.url}) proposes an earlier epoch of {plan.revision} "
                                     f"({request.branch}): close it; merging it would pin without counting")
            else:  # an earlier revision's, left open: merging it would pin that revision again
                tending.notes.append(f"{request.ref} ({request.url}) proposes another revision of {plan.policy} "
                                     f"({request.branch}): close it; merging it would pin that revision again")
        head, target = git.head(), session.upstream.branch
        looked, reverts = [], []
        # merging a first advance is its wave's start: what waits for a wave waits for its late joins
        joins = {f["branch"]: start_held(plan, state, plan.wave(f["event"].wave).number) for f in flights
                 if f["event"].action == "advance" and _has_wave(plan, f["event"].wave)
                 and state.wave(f["event"].wave).status == "proposed"}
        tending.notes += [f"{branch} waits: waiting for {'; '.join(why)}" for branch, why in joins.items() if why]
        flights = [f for f in flights if not joins.get(f["branch"])]
        for flight in flights:
            event, branch = flight["event"], flight["branch"]
            wave = plan.wave(event.wave) if _has_wave(plan, event.wave) else None
            what = f"wave {wave.number} {wave.name}" if wave else f"wave {event.wave}"
            request = opened.get(branch) or forge.find(branch)
            if request is None:  # a run stopped between pushing the branch and opening its request
                request = self._reopen(session, forge, flight, ws, state)
                tending.notes.append(f"{what}: opened {request.url} for {branch}")
            elif request.state == "closed":
                tending.halts.append(
                    f"{what}: {request.ref} ({request.url}) was closed without merge: the rollout "
                    f"halts; reopen it to go on, or delete the branch {branch} to have it proposed again")
            elif request.state == "merged":
                if request.merge_commit and git.is_ancestor(request.merge_commit, head):
                    why = ("a rebase that dropped its commit, which changes no file? merge it with a squash or a "
                           "merge commit" if _changes_nothing(git, flight["commit"]) else
                           "a squash message that dropped them?")
                    tending.halts.append(
                        f"{what}: {request.ref} was merged as {request.merge_commit[:12]} without the "
                        f"rollout's trailers ({why}): its change is on the branch but "
                        "not recorded; see docs/delivery.md, 'Merged by hand'")
                else:
                    tending.notes.append(f"{what}: {request.ref} was merged; the next step sees it")
            elif request.base != target:
                tending.halts.append(f"{what}: {request.ref} targets {request.base}, not {target}: the rollout "
                                     f"halts; set its base back to {target}")
            else:
                looked.append((flight, request, what, wave))
            if event.action == "revert" and request.state != "merged":
                reverts.append((event.wave, f"{what}: its revert waits in {request.ref} ({request.url})"))
        if tending.halts:
            return tending
        merged_any = False
        for flight, request, what, wave in looked:
            merged_any |= self._tend_one(session, forge, flight, request, what, wave, head, ws, state, tending)
        if merged_any:
            session.sync()  # take the merged commits: the fold must see them
        done = {m["name"] for m in tending.merged if m["action"] == "revert"}
        tending.reverting = [line for name, line in reverts if name not in done]
        return tending

    def _tend_one(self, session, forge, flight, request, what, wave, head, ws, state, tending) -> bool:
        """One open request of the followed branch: rebuild, wait, or merge. True if merged."""
        from rollout.delivery.forge import NotMergeable

        git, branch = session.git, flight["branch"]
        if request.head != flight["commit"]:  # a push since this step fetched, or not the rollout's commit
            tending.notes.append(f"{what}: {request.ref} has head {request.head[:12]}, not the rollout's "
                                 f"{flight['commit'][:12]} as fetched: left for the next step")
            return False
        if flight["parent"] != head:
            signer = _signer(session, ws, flight["commit"])
            if signer is not None and signer not in own_principals(session.git, ws):
                tending.notes.append(f"{what}: {request.ref} is behind {session.upstream.branch} and signed by {signer}: "
                                     "its rebuild would be this runner's signature, not theirs (spec.trust); they "
                                     "rebase and sign it again, or close it and delete the branch")
                return False
            note = self._rebuild(session, forge, request, flight, head, ws, state)
            (tending.halts if note.startswith("conflict") else tending.notes).append(f"{what}: {note}")
            return False
        if not self.spec.autoMerge:
            tending.notes.append(f"{what}: waits for a person to merge {request.ref} ({request.url})")
            return False
        event, trust = flight["event"], screen_for(git, ws).trust  # the trust in force, not the tip's text
        approval = None
        if trust is not None and event.action == "approve":  # who approves: the signer, else a forge review
            approval = self._approval(session, forge, request, flight, ws, trust)
            if approval is None:
                names = [a for a in trust.approvers if a.startswith(f"{forge.name}:")] or list(trust.approvers)
                tending.notes.append(f"{what}: {request.ref} waits for an approving review by one of "
                                     f"{', '.join(names) or 'no one (spec.trust.approvers is empty)'} ({request.url})")
                return False
        readiness = forge.readiness(request)
        if not readiness.ready:
            why = readiness.reason or ("the forge is still computing mergeability" if readiness.mergeable is None
                                       else f"checks {readiness.checks}")
            tending.notes.append(f"{what}: {request.ref} is not ready to merge: {why}")
            return False
        message = git.run("log", "-1", "--format=%B", flight["commit"])
        subject, _, rest = message.partition("\n")
        method = self.spec.mergeMethod
        squashed = method == "rebase" and _changes_nothing(git, flight["commit"])
        if squashed:
            # A rebase drops a commit that changes no file (a late join or an advance whose files
            # held the revision already, an approval): the branch would stay where it was and the
            # change be proposed again on every step. A squash lands it, made at merge time, its
            # message (the trailers) kept: the record push delivery would have pushed.
            method = "squash"
        text = rest.strip() + "\n" if method == "squash" else f"Merges {request.ref} from {branch}.\n"
        if approval is not None and (approval[1] is not None or method != "merge"):
            # The merge is the approve record, signed by the forge's key: its message names the
            # approver. A rebase would land the branch's own message: squash instead (the
            # approval changes no file). A signed approval merged with a merge commit counts by
            # its own commit, as without trust.
            who, review = approval
            lead = f"Approved by {who} in a review of {request.ref}." if review else f"Approved by {who} (signed)."
            text = lead + "\n\n" + "\n".join(approval_trailers(message, who, review)) + "\n"
            method = "squash" if method == "rebase" else method
        try:
            commit = forge.merge(request, method, f"{subject} ({request.tag})", text)
        except NotMergeable as err:
            tending.notes.append(f"{what}: {request.ref} could not be merged: {err}"
                                 + (" (it changes no file: a rebase would drop it, so it is squashed)" if squashed
                                    else ""))
            return False
        tending.merged.append({"wave": wave.number if wave else None, "name": event.wave, "action": event.action,
                               "number": request.number, "url": request.url, "commit": commit, "ref": request.ref})
        git.delete_remote_ref(session.remote, f"refs/heads/{branch}")  # as a forge's "delete branch" does
        return True

    @staticmethod
    def _approval(session, forge, request, flight, ws, trust) -> tuple[str, str | None] | None:
        """Under spec.trust, who approves an approval request, and the review's URL: the
        approver who signed its commit (a signed `rollout approve`: no review needed), else
        the first reviewer approving its head who is among the approvers (one call). None:
        no one yet."""
        commit, named = flight["commit"], flight["event"].by
        screen = screen_for(session.git, ws)
        if screen.trust is not None:
            signature = screen.signatures([commit]).get(commit)
            if signature is not None and admits("approve", signature, screen.trust, named) is None:
                return approver(signature, screen.trust, named), None
        wanted = {a.casefold(): a for a in trust.approvers if a.startswith(FORGE_IDENTITIES)}
        for name in forge.approvals(request):
            if name.casefold() in wanted:
                return wanted[name.casefold()], request.url
        return None

    def _rebuild(self, session, forge, request, flight, head, ws, state) -> str:
        """The branch left behind by a moved base: its change merged onto the new tip
        (git's own three-way merge; where that conflicts only beside the pinned lines, its
        pinned fields carried: rollout/delivery/carry.py), pushed under a lease on the
        rollout's own branch; the pull request's body then tells the new base, diff and
        plan (one more call)."""
        git = session.git
        # the message exactly as the commit holds it (-z: `%B` then NUL; without it, git adds a
        # newline, one more per rebuild)
        message = git.run("log", "-1", "-z", "--format=%B", flight["commit"]).removesuffix("\0")
        tree, how = git.merge_tree(head, flight["commit"]), ""
        if tree is not None:
            commit = git.commit_tree(tree, head, message)
        elif (files := carried(git, ws, flight, head)) is not None:
            modes = git.modes(head)
            commit, how = git.commit_on(head, files, message, {f: modes[f] for f in files if f in modes}), \
                "; its pinned fields carried: git's merge conflicted beside them"
        else:
            return (f"conflict: {flight['branch']} no longer applies to {session.upstream.branch} "
                    f"({request.ref}): the rollout halts; rebase that branch onto {session.upstream.branch} "
                    "keeping its commit message (the Rollout- trailers), or close the pull request and "
                    "delete the branch to have the wave proposed again")
        pushed = git.push_ref(session.remote, commit, f"refs/heads/{flight['branch']}", lease=flight["commit"])
        if pushed is None:
            return f"{flight['branch']} moved meanwhile (another runner rebuilt it): left as it is"
        git.run("update-ref", f"refs/remotes/{session.remote}/{flight['branch']}", commit)
        change, outcome = self._change_of({**flight, "commit": commit}, ws, state)
        forge.update(request, request.title or message.partition("\n")[0], self.body(session, change, outcome, head))
        return f"rebuilt {flight['branch']} on {session.upstream.branch} {head[:12]} ({request.ref}{how})"

    def _reopen(self, session, forge, flight, ws, state):
        change, outcome = self._change_of(flight, ws, state)
        return self._ensure(session, forge, flight["branch"], change, outcome, flight["parent"],
                            flight["event"].action == "revert")

    @staticmethod
    def _change_of(flight, ws, state):
        """The change a fetched branch carries, as publish knew it (for its pull request's body)."""
        event = flight["event"]
        number = ws.plan.wave(event.wave).number if _has_wave(ws.plan, event.wave) else 0
        outcome = Outcome(ws.plan.policy, ws.plan.revision, ws=ws, state=state)
        return WaveChange(number, event.wave, event.action, list(event.clusters), [], commit=flight["commit"]), outcome


def _changes_nothing(git, commit: str) -> bool:
    """Whether `commit` changes no file (its tree is its parent's)."""
    trees = git.run("rev-parse", f"{commit}^{{tree}}", f"{commit}^^{{tree}}", check=False).split()
    return len(trees) == 2 and trees[0] == trees[1]


def _has_wave(plan, name: str) -> bool:
    return any(w.name == name for w in plan.waves)


def _signer(session, ws, commit: str) -> str | None:
    """Under spec.trust, who signed `commit` (None: no trust in force)."""
    screen = screen_for(session.git, ws)
    if screen.trust is None:
        return None
    signature = screen.signatures([commit]).get(commit)
    return signature.principal if signature is not None and signature.good else "no allowed signer"


def _in_flight(event, state) -> bool:
    """Whether a branch's change is still to reach the followed branch, per the fold."""
    try:
        wave = state.wave(event.wave)
    except KeyError:
        return False
    if event.action == "advance":
        return wave.status in ("pending", "proposed") or any(c in wave.late or c in wave.late_proposed
                                                             for c in event.clusters)
    if event.action == "revert":  # a late join's revert (it names the join): done once the join is reverted
        join = wave.join(event.advance)
        return wave.status != "reverted" and (join is None or join.status != "reverted")
    if event.action == "approve":
        return not wave.approved_by
    return False
