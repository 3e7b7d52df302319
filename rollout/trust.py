"""Verifying who made a rollout's records (`spec.trust`, docs/security.md), for
waves/trust.py to decide which count.

`git` verifies every signature: `git log --no-walk --format=%G?` with
`gpg.ssh.allowedSignersFile` set to the allowed signers written out as they were where the
record was made, one process per version of that file, not one per record. GNUPGHOME is
an empty folder of ours: no key of the runner's own keyring vouches for anything.

Where a record was made, against the trust files in force as the chain of signed changes
to them left them (waves/trust.walk):
- on the followed branch's first-parent line: at its parent;
- a pull request's commit merged in: where its merge landed;
- anywhere else (the records branch): at the followed branch's tip. The records branch is
  not protected and its own copy of the files is as old as the branch: a signer removed
  since counts there no more, earlier records included (the step judges the gates again
  and records afresh).
"""

from __future__ import annotations

import bisect
import os
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from waves.state import OUT
from rollout.git.cache import CacheFile
from rollout.workspace import UsageError
from rollout.yamlfile import Located
from waves.trust import POLICY, Change, Ignored, InForce, Signature, TrustSpec, screen, walk

_FORMAT = "%H%x1f%G?%x1f%GS%x1f%GF%x1e"
# <git-dir>/rollout-signatures.json: {version of the files: {commit: [status, principal, key]}},
# and {"policies": {blob: its spec.trust}}
SIGNATURES = "rollout-signatures.json"


def verify(git, commits: list[str], signers: str | None, keys: str | None = None,
           since: str | None = None) -> dict[str, Signature]:
    """commit -> its signature verified against the allowed signers blob `signers` (None:
    no file, nothing verifies) and the OpenPGP public keys blob `keys` (armoured; a key's
    principal is its user ID's email), in one `git log` for the commits not verified
    before. An ssh result depends only on the commit and the two blobs, all named by their
    hashes (the runner's own revocation file and trust level are overridden), so it is kept
    in the git dir; OpenPGP results are not (gpg judges a key's expiry at the clock)."""
    if not commits:
        return {}
    cache = CacheFile.of(git, SIGNATURES)
    known = cache.get(f"{signers}:{keys}")
    todo = [c for c in dict.fromkeys(commits) if c not in known]
    if todo:
        fresh = _verify(git, todo, _content(git, signers), _content(git, keys))
        known.update({c: v for c, v in fresh.items() if _lasting(v)})
        cache.save()
        known = {**known, **fresh}
    return {c: Signature(c, *known[c], signers_from=since) for c in commits if c in known}


def _lasting(result: list) -> bool:
    """Whether a verification result holds for good: unsigned, or an ssh signature (its key
    a SHA256 fingerprint) that verified, did not, or was by an unknown key. Not an OpenPGP one
    (expiry is judged at the clock), nor "cannot check" (maybe this machine's lack of gpg)."""
    status, _, key = result
    return status == "N" or (status in ("G", "U", "B") and (key or "").startswith("SHA256:"))


def _content(git, blob: str | None) -> bytes | None:
    """A trust file's content (a symlink's, `link:...`, is nothing: never a file of ours)."""
    if not blob or blob.startswith("link:"):
        return None
    return git.read_blob(blob)


def _verify(git, commits: list[str], signers: bytes | None, keys: bytes | None) -> dict[str, list]:
    with tempfile.TemporaryDirectory(prefix="rollout-trust-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_bytes(signers or b"")
        home = Path(tmp) / "gnupg"
        home.mkdir(mode=0o700)
        if keys:
            _keyring(home, keys)
        out = git.run("-c", f"gpg.ssh.allowedSignersFile={allowed}", "-c", "gpg.ssh.revocationFile=",
                      "-c", "gpg.minTrustLevel=undefined", "log", "--no-walk=unsorted", "--stdin",
                      f"--format={_FORMAT}", input="".join(f"{c}\n" for c in commits).encode(),
                      env={"GNUPGHOME": str(home)})
    found = {}
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if record:
            commit, status, principal, key = (record.split("\x1f") + ["", "", ""])[:4]
            found[commit] = [status or "N", _principal(principal), key.strip() or None]
    return found


def _principal(signer: str) -> str | None:
    """An ssh signature's principal as the allowed signers name it; an OpenPGP signature's
    user ID (`GitHub <noreply@github.com>`) by its email."""
    signer = signer.strip()
    if signer.endswith(">") and "<" in signer:
        return signer[signer.rindex("<") + 1:-1].strip() or None
    return signer or None


def _keyring(home: Path, keys: bytes) -> None:
    """A throwaway GNUPGHOME holding `keys` only, each trusted (ownertrust ultimate: the
    repo's file, under the chain of signed changes, is what vouches for them). Without gpg,
    OpenPGP signatures stay unverifiable (`E`), never good."""
    env = {**os.environ, "GNUPGHOME": str(home)}
    try:
        subprocess.run(["gpg", "--batch", "--quiet", "--import"], input=keys, env=env, capture_output=True, timeout=30)
        listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env, capture_output=True,
                                 text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return
    primaries, after_pub = [], False
    for line in listing.splitlines():
        kind = line.split(":", 1)[0]
        if kind == "fpr" and after_pub:
            primaries.append(line.split(":")[9])
        after_pub = kind == "pub"
    if primaries:
        subprocess.run(["gpg", "--batch", "--quiet", "--import-ownertrust"], env=env, capture_output=True, timeout=30,
                       input="".join(f"{fpr}:6:\n" for fpr in primaries).encode())


def trust_of(text: str) -> TrustSpec | None:
    """A policy text's spec.trust, read by the policy loader's own parser (None: none, or
    not readable: both weaken the rule)."""
    if "trust" not in text:
        return None
    try:
        documents = Located.parse(Path("policy.yaml"), text).documents
        spec = (documents[0] if documents and isinstance(documents[0], dict) else {}).get("spec") or {}
        return TrustSpec.model_validate(spec["trust"]) if spec.get("trust") is not None else None
    except Exception:  # not YAML, not a mapping, not a valid trust: as good as none
        return None


@dataclass
class Screen:
    """The trust in force on one snapshot of the branch, and the means to verify records."""

    git: object
    trust: TrustSpec | None  # in force at the tip (None: records are not verified)
    at_tip: InForce | None = None
    position: dict[str, int] = field(default_factory=dict)  # first-parent commit -> index, oldest 0
    changes: list[tuple[int, InForce]] = field(default_factory=list)  # (index of the change, in force after it)
    brought: dict[str, str] = field(default_factory=dict)  # a first-parent merge's second parent -> the merge

    @property
    def blocked(self) -> Ignored | None:
        """The newest change to a trust file that did not count and still stands."""
        return self.at_tip.untrusted if self.at_tip else None

    def in_force_at(self, commit: str) -> InForce | None:
        """What was in force where `commit` was made (see the module's docstring): at its
        parent on the first-parent line; at the merge that brought it, for a pull request's
        commit; at the tip for anything else (the records branch)."""
        index = self.position.get(commit)
        if index is None and commit in self.brought:
            index = self.position.get(self.brought[commit])
        if index is None:
            return self.at_tip
        before = bisect.bisect_left([at for at, _ in self.changes], index)  # the changes made before it
        return self.changes[before - 1][1] if before else None

    def verify(self, commits: list[str], state: InForce) -> dict[str, Signature]:
        return verify(self.git, commits, state.signers, state.keys, state.since)

    def signatures(self, commits: list[str]) -> dict[str, Signature]:
        """Each commit verified against the trust files in force where it was made: one
        `git log` per version of them, none for a commit verified before."""
        groups: dict[tuple, list[str]] = {}
        states = {}
        for commit in commits:
            state = self.in_force_at(commit)
            if state is None or state.trust is None:
                continue
            key = (state.signers, state.keys, state.since, state.untrusted)
            groups.setdefault(key, []).append(commit)
            states[key] = state
        found: dict[str, Signature] = {}
        for key, group in groups.items():
            state = states[key]
            if state.untrusted is not None:  # made while an unsigned change stood: nothing of it releases
                found.update({c: Signature(c, "T", signers_from=state.untrusted.commit) for c in group})
                continue
            for commit, signature in self.verify(group, state).items():
                if signature.good and signature.principal in state.trust.forges and commit not in self.position:
                    # a forge signs its web editor's and API's commits too: its key speaks for merges only
                    signature = Signature(commit, "F", signature.principal, signature.key, signature.signers_from)
                found[commit] = signature
        return found

    def needs(self, commit: str) -> bool:
        state = self.in_force_at(commit)
        return state is not None and state.trust is not None

    def screen(self, events) -> tuple[list, list[Ignored], list[Ignored]]:
        """(the events that count, approvals naming their signer; the records ignored; the
        stops honoured unsigned). Records made before any trust was in force count as before."""
        if self.trust is None and not self.changes:
            return list(events), [], []
        checked = [e for e in events if self.needs(e.commit)]
        signatures = self.signatures([e.commit for e in checked])
        trusts = {e.commit: self.in_force_at(e.commit).trust for e in checked}
        kept, ignored, unsigned = screen(checked, signatures, trusts)
        counted = {e.commit: e for e in kept}
        dropped = {i.commit for i in ignored}
        return [counted.get(e.commit, e) for e in events if e.commit not in dropped], ignored, unsigned

    def good(self, commit: str) -> bool:
        """Whether `commit` is signed by an allowed signer (not a forge) where it was made."""
        signature = self.signatures([commit]).get(commit)
        state = self.in_force_at(commit)
        return bool(signature and signature.good and state and signature.principal not in state.trust.forges)


_cache: dict[tuple, Screen] = {}


def screen_for(git, ws) -> Screen:
    """The Screen of the policy at the checkout's HEAD (cached per HEAD: a step reads it
    more than once)."""
    head = git.head()
    aliases = policy_paths(ws)
    key = (str(git.root), head, tuple(aliases))
    if key not in _cache:
        _cache.clear()
        _cache[key] = _build(git, aliases, ws.loaded.policy.spec.trust)
    return _cache[key]


def policy_paths(ws) -> list[str]:
    """Where the policy is read from (a symlink not followed: its own history is the
    policy's), then where `rollout NAME` would look for it: a rename is a change, not a
    fresh start."""
    loaded = os.path.relpath(os.path.abspath(ws.loaded.path), os.path.abspath(ws.repo)).replace(os.sep, "/")
    name = ws.loaded.policy.metadata.name
    return list(dict.fromkeys([loaded, f"rollouts/{name}.yaml", f"rollouts/{name}.yml"]))


def _build(git, aliases: list[str], trust_now: TrustSpec | None) -> Screen:
    """`aliases`: the paths the policy may be read from (the one loaded first)."""
    versions = _changes_of(git, aliases)
    read = CacheFile.of(git, SIGNATURES).get("policies")  # blob -> its spec.trust (a blob never changes: parsed once)
    texts = _texts(git, [b for _, blobs in versions for b in blobs.values()
                         if b and not b.startswith("link:") and b not in read])
    trusts: dict[str | None, TrustSpec | None] = {None: None}
    current: dict[str, str | None] = {}
    for _, blobs in versions:
        current.update(blobs)
        blob = _policy_blob(current, aliases)
        if blob is not None and blob not in read:
            found = trust_of(texts.get(blob, ""))
            read[blob] = found.model_dump() if found else None
        trusts[blob] = TrustSpec.model_validate(read[blob]) if blob is not None and read[blob] else None
    if texts:
        CacheFile.of(git, SIGNATURES).save()
    if not any(trusts.values()) and trust_now is None:
        return Screen(git, None)  # never under trust: nothing to verify, nothing to walk
    if git.run("rev-parse", "--is-shallow-repository", check=False).strip() == "true":
        raise UsageError("the policy has (or had) spec.trust, and this clone is shallow: who made each record can "
                         "only be told from the whole history; fetch it (`git fetch --unshallow`; in GitHub Actions "
                         "`fetch-depth: 0`, in GitLab `GIT_DEPTH: 0`)")
    trust_paths = sorted({p for t in [*trusts.values(), trust_now] if t for p in (t.allowedSigners, t.openpgpKeys)
                          if p} - set(aliases))
    order = git.run("rev-list", "--first-parent", "--reverse", "HEAD").split()
    position = {commit: i for i, commit in enumerate(order)}
    current = {}
    changes = []
    for commit, blobs in _changes_of(git, [*aliases, *trust_paths]):
        before = _policy_blob(current, aliases)
        current.update(blobs)
        now = {POLICY: _policy_blob(current, aliases), **{p: current.get(p) for p in trust_paths}}
        changed = {p for p in blobs if p in trust_paths} | ({POLICY} if now[POLICY] != before else set())
        changes.append(Change(commit, now, frozenset(changed)))
    merges = git.run("log", "--first-parent", "--merges", "--format=%H %P", "HEAD", check=False).split("\n")
    brought = {parts[2]: parts[0] for parts in (line.split() for line in merges) if len(parts) >= 3}
    screen = Screen(git, None, None, position, [], brought)
    _prefetch(git, changes, trusts)

    def verdict(change: Change, state: InForce) -> Signature:
        signature = screen.verify([change.commit], state).get(change.commit, Signature(change.commit, "N"))
        if signature.good:
            return signature
        side = _side_change(git, change.commit, [*aliases, *trust_paths])
        if side is None:
            return signature
        # a merge that brought a change made on a branch: the change's own signature speaks for it
        vouched = screen.verify([side], state).get(side, Signature(side, "N"))
        return vouched if vouched.good else signature

    after = walk(changes, trusts.get, verdict)  # every policy blob of the chain is a version read above
    screen.changes = [(position.get(c.commit, -1), state) for c, state in zip(changes, after)]
    screen.at_tip = after[-1] if after else None
    screen.trust = after[-1].trust if after else trust_now
    if trust_now is not None and screen.trust is None and screen.at_tip is not None and screen.at_tip.untrusted is None:
        screen.at_tip = replace(screen.at_tip, untrusted=Ignored(  # the loader reads trust where the chain saw none
            screen.at_tip.since or "", "policy", "the policy's spec.trust could not be read the way the loader reads "
            "it (YAML merge keys, anchors?): write spec.trust out plainly"))
    return screen


def _prefetch(git, changes: list[Change], trusts: dict) -> None:
    """Verify the chain's changes in batches, each against the trust files as they were just
    before it (what is in force there, unless an unsigned change stands): one `git log` per
    version of the allowed signers, not one per change; the walk then reads the cache."""
    groups: dict[tuple, list[str]] = {}
    for before, change in zip(changes, changes[1:]):
        trust = trusts.get(before.blobs.get(POLICY))
        if trust is not None:
            keys = before.blobs.get(trust.openpgpKeys) if trust.openpgpKeys else None
            groups.setdefault((before.blobs.get(trust.allowedSigners), keys), []).append(change.commit)
    for (signers, keys), commits in groups.items():
        verify(git, commits, signers, keys)


def _policy_blob(current: dict, aliases: list[str]) -> str | None:
    """The policy as the tool would read it: the first of its paths that exists."""
    return next((current[p] for p in aliases if current.get(p)), None)


def _side_change(git, merge: str, paths: list[str]) -> str | None:
    """The newest commit a merge brought in that changed `paths` (None: not a merge, or none)."""
    parents = git.run("rev-list", "--parents", "-n", "1", merge, check=False).split()[1:]
    if len(parents) < 2:
        return None
    out = git.run("log", "-1", "--format=%H", parents[1], "--not", parents[0], "--", *paths, check=False).strip()
    return out or None


def _changes_of(git, paths: list[str]) -> list[tuple[str, dict[str, str | None]]]:
    """(commit, {path: blob or None}) of each first-parent commit of HEAD that changed
    any of `paths`, oldest first (one `git log`; a merge counts as the change it brings)."""
    out = git.run("log", "--first-parent", "--reverse", "--no-renames", "--raw", "--no-abbrev",
                  "--format=%x1e%H", "HEAD", "--", *paths, check=False)
    found = []
    for record in out.split("\x1e"):
        lines = [line for line in record.strip("\n").splitlines() if line]
        if not lines:
            continue
        blobs: dict[str, str | None] = {}
        for line in lines[1:]:
            meta, _, file = line.partition("\t")
            parts = meta.split()
            if len(parts) >= 5 and file in paths:  # a symlink is no file of ours: its blob never reads as one
                blobs[file] = None if set(parts[3]) == {"0"} else ("link:" if parts[1] == "120000" else "") + parts[3]
        found.append((lines[0].strip(), blobs))
    return found


def _texts(git, blobs: list[str]) -> dict[str, str]:
    return {blob: data.decode(errors="replace") for blob, data in git.read_blobs(blobs).items() if data is not None}


def counted(git, ws, events) -> list:
    """The events that count under the policy's spec.trust (all of them without it)."""
    return screen_for(git, ws).screen(events)[0]


def pinned_now(ws, git=None) -> dict[str, bool] | None:
    """Which clusters' files hold the revision, when the workspace checked the files (None
    when it read none): from what they say (rollout/reuse.py, kept by blob in `git`)."""
    from rollout.reuse import held

    if ws.inspection is None:
        return None
    return held(ws, git)


def unreleased(git, ws, state, counted, at_revision: dict[str, bool] | None) -> list[Ignored]:
    """Under spec.trust: waves not out (pending, proposed, reverted) whose pinned files
    hold the revision, when the commit that last changed those files is neither an advance
    of the revision that counted (of any epoch: A -> B -> A) nor a commit an allowed signer
    signed (who vouches for it: a new cluster's file born at the revision). A pin by hand,
    a forged advance, a `git revert` of a revert: the rollout halts, naming the commit.
    One `git log` per such wave: none on a rollout that only its own advances moved."""
    if not at_revision:
        return []
    plan = ws.plan
    screen = screen_for(git, ws)
    trusted = {e.commit for e in counted if e.policy == plan.policy and e.action == "advance"
               and e.revision == plan.revision}
    found = []
    for wave in state.waves:
        if wave.status in OUT:
            continue
        holding = [c for c in plan.wave(wave.number).clusters if at_revision.get(c)]
        if not holding:
            continue
        files = sorted({t.file for c in holding for t in plan.pins.get(c, ())})
        last = git.run("log", "-1", "--format=%H", "HEAD", "--", *files, check=False).strip()
        if not last or last in trusted or screen.good(last):
            continue
        shown = ", ".join(holding[:3]) + (f" and {len(holding) - 3} more" if len(holding) > 3 else "")
        found.append(Ignored(last, "pin", f"the files of {shown} hold {plan.revision} without a trusted advance "
                             "(this commit changed them last, and no allowed signer signed it); an allowed signer "
                             f"vouches for them with `rollout advance {plan.policy} --wave {wave.number} --force`, "
                             "or reverts it", wave.name))
    return found


def _own_principals(git, signers: bytes | None) -> list[str] | None:
    """The principals the allowed signers give the key git signs with here (None: not an
    ssh key this can read; then git's verification after the fact is the only check)."""
    if git.run("config", "gpg.format", check=False).strip() != "ssh":
        return None
    key = git.run("config", "user.signingkey", check=False).strip()
    if key.startswith("key::"):
        public = key[len("key::"):]
    else:
        path = Path(os.path.expanduser(key))
        path = path if path.is_absolute() else Path(git.root) / path
        candidates = [path] if path.suffix == ".pub" else [path.with_name(path.name + ".pub"), path]
        public = next((p.read_text(errors="replace") for p in candidates if p.is_file() and
                       p.read_text(errors="replace").startswith(("ssh-", "ecdsa-", "sk-"))), None)
        if public is None:
            return None
    parts = public.split()
    if len(parts) < 2:
        return None
    principals = []
    for line in (signers or b"").decode(errors="replace").splitlines():
        if line.strip().startswith("#") or parts[1] not in line.split():
            continue
        principals += line.split()[0].split(",")
    return principals


def own_principals(git, ws) -> list[str]:
    """The principals the allowed signers in force give the key this runner signs with
    (empty: none, or not an ssh key this can read)."""
    screen = screen_for(git, ws)
    signers = _content(git, screen.at_tip.signers) if screen.at_tip else None
    return _own_principals(git, signers) or []


def require_signing(session, ws, what: str, approving: bool = False) -> None:
    """Refuse (exit 2, before anything is written) to write a record that releases
    something into a rollout under spec.trust when it would not count: git does not sign
    here, or (ssh keys) the key is not in the allowed signers, or, for an approval, its
    principal is not among the approvers. `what`: the record, with its article."""
    screen = screen_for(session.git, ws)
    if screen.trust is None:
        return
    name = ws.plan.policy if ws.plan is not None else "the policy"
    if not session.git.signing():
        raise UsageError(f"{name} has spec.trust: {what} counts only when signed by an allowed signer, and git "
                         "does not sign here: set commit.gpgsign true, gpg.format ssh and user.signingkey "
                         "(docs/security.md, \"Signing\")")
    if screen.blocked is not None:
        raise UsageError(f"{name} is halted by spec.trust ({screen.blocked.line()}): {what} made now would not count; "
                         "an allowed signer first signs a change that sets the trust files again")
    signers = _content(session.git, screen.at_tip.signers) if screen.at_tip else None
    principals = _own_principals(session.git, signers)
    if principals is None:
        return
    if not principals:
        raise UsageError(f"{name} has spec.trust: the key git signs with here is not in {screen.trust.allowedSigners}, "
                         f"so a {what} made with it would not count: add its public key there in a change signed "
                         "by an allowed signer, or sign with an allowed key")
    if approving and not set(principals) & set(screen.trust.approvers):
        raise UsageError(f"{name} has spec.trust: an approval counts only when its signer is among "
                         f"spec.trust.approvers ({', '.join(screen.trust.approvers) or 'none'}); the key git signs "
                         f"with here is {', '.join(principals)}'s")
