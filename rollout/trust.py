"""Verifying who made a rollout's records (`spec.trust`, docs/security.md), for
waves/trust.py to decide which count.

`git` verifies every signature: `git log --no-walk --format=%G?` with
`gpg.ssh.allowedSignersFile` set to the allowed signers written out as they were where the
record was made, one process per version of that file, not one per record. GNUPGHOME is
an empty folder of ours: no key of the runner's own keyring vouches for anything.

Where a record was made:
- on the followed branch's first-parent line: the allowed signers in force at its parent,
  as the chain of signed changes to the policy and the allowed signers left them
  (waves/trust.walk);
- anywhere else (the records branch, a pull request's commits merged in): the allowed
  signers in force at the followed branch's tip. The records branch is not protected and
  its own copy of the file is as old as the branch: a signer removed since counts there no
  more, earlier records included (the step judges the gates again and records afresh).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from waves.state import OUT
from rollout.workspace import UsageError
from waves.trust import Change, Ignored, InForce, Signature, TrustSpec, screen, walk

_FORMAT = "%H%x1f%G?%x1f%GS%x1f%GF%x1e"


def verify(git, commits: list[str], signers: bytes | None, since: str | None = None,
           keys: bytes | None = None) -> dict[str, Signature]:
    """commit -> its signature verified against `signers` (the allowed signers file's
    content; None: no file, nothing verifies) and the OpenPGP public keys `keys` (armoured;
    a key's principal is its user ID's email), in one `git log` for the commits not
    verified before: a result depends only on the commit and the two files' contents, all
    named by their hashes, so it is kept in the git dir and never goes stale."""
    if not commits:
        return {}
    cache = _Cache.of(git)
    versus = hashlib.sha256((signers or b"") + b"\0" + (keys or b"")).hexdigest()[:32]
    known = cache.get(versus)
    todo = [c for c in dict.fromkeys(commits) if c not in known]
    if todo:
        fresh = _verify(git, todo, signers, keys)
        known.update({c: v for c, v in fresh.items() if v[0] != "E"})  # "cannot check" may be this machine's lack
        cache.save()
        known = {**known, **fresh}
    return {c: Signature(c, *known[c], signers_from=since) for c in commits if c in known}


class _Cache:
    """`<git-dir>/rollout-signatures.json`: {version of the files: {commit: [status, principal, key]}}."""

    _open: dict[str, "_Cache"] = {}

    def __init__(self, path: Path):
        self.path = path
        try:
            self.data = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}
        if not isinstance(self.data, dict):
            self.data = {}

    @classmethod
    def of(cls, git) -> "_Cache":
        path = git.git_dir() / "rollout-signatures.json"
        if str(path) not in cls._open:
            cls._open[str(path)] = cls(path)
        return cls._open[str(path)]

    def get(self, versus: str) -> dict:
        return self.data.setdefault(versus, {})

    def save(self) -> None:
        """Written aside and renamed in: a reader never sees half a file; a lost race loses entries only."""
        try:
            aside = self.path.with_name(f"{self.path.name}.{os.getpid()}")
            aside.write_text(json.dumps(self.data))
            os.replace(aside, self.path)
        except OSError:
            pass  # a read-only checkout: verify again next time


def _verify(git, commits: list[str], signers: bytes | None, keys: bytes | None) -> dict[str, list]:
    with tempfile.TemporaryDirectory(prefix="rollout-trust-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_bytes(signers or b"")
        home = Path(tmp) / "gnupg"
        home.mkdir(mode=0o700)
        if keys:
            _keyring(home, keys)
        out = git.run("-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "--no-walk=unsorted", "--stdin",
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
    """A policy text's spec.trust (None: none, or not readable: both weaken the rule)."""
    if "trust" not in text:
        return None
    import yaml_rs

    try:
        spec = (yaml_rs.loads(text) or {}).get("spec") or {}
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
    _blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def blocked(self) -> Ignored | None:
        """The newest change to the policy or its allowed signers, when unsigned by a signer allowed before it."""
        return self.at_tip.untrusted if self.at_tip else None

    def in_force_at(self, commit: str) -> InForce | None:
        """What was in force where `commit` was made (see the module's docstring)."""
        index = self.position.get(commit)
        if index is None:
            return self.at_tip
        before = bisect.bisect_left([at for at, _ in self.changes], index)  # the changes made before it
        return self.changes[before - 1][1] if before else None

    def signatures(self, commits: list[str]) -> dict[str, Signature]:
        """Each commit verified against the allowed signers in force where it was made:
        one `git log` per version of the allowed signers."""
        groups: dict[tuple, list[str]] = {}
        for commit in commits:
            state = self.in_force_at(commit)
            if state is None or state.trust is None:
                continue
            groups.setdefault((state.signers, state.keys, state.since, state.untrusted), []).append(commit)
        found: dict[str, Signature] = {}
        for (blob, keys, since, untrusted), group in groups.items():
            if untrusted is not None:  # made while an unsigned change stood: nothing of it releases
                found.update({c: Signature(c, "T", signers_from=untrusted.commit) for c in group})
                continue
            found.update(verify(self.git, group, self._blob(blob), since, self._blob(keys)))
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

    def _blob(self, blob: str | None) -> bytes | None:
        if blob is None:
            return None
        if blob not in self._blobs:
            self._blobs[blob] = self.git.read_blob(blob)
        return self._blobs[blob]


_cache: dict[tuple, Screen] = {}


def screen_for(git, ws) -> Screen:
    """The Screen of the policy at the checkout's HEAD (cached per HEAD: a step reads it
    more than once)."""
    head = git.head()
    path = policy_path(ws)
    key = (str(git.root), head, path)
    if key not in _cache:
        _cache.clear()
        _cache[key] = _build(git, path, ws.loaded.policy.spec.trust)
    return _cache[key]


def policy_path(ws) -> str:
    return os.path.relpath(Path(ws.loaded.path).resolve(), Path(ws.repo).resolve()).replace(os.sep, "/")


def _build(git, path: str, trust_now: TrustSpec | None) -> Screen:
    versions = _changes_of(git, [path])
    texts = _texts(git, [blob for _, blobs in versions for blob in blobs.values() if blob])
    trusts = {commit: trust_of(texts.get(blobs.get(path) or "", "")) for commit, blobs in versions}
    if not any(trusts.values()) and trust_now is None:
        return Screen(git, None)  # never under trust: nothing to verify, nothing to walk
    signer_paths = sorted({p for t in [*trusts.values(), trust_now] if t for p in (t.allowedSigners, t.openpgpKeys)
                           if p})
    order = git.run("rev-list", "--first-parent", "--reverse", "HEAD").split()
    position = {commit: i for i, commit in enumerate(order)}
    changed = _changes_of(git, [path, *signer_paths])
    current: dict[str, str | None] = {}
    changes = []
    for commit, blobs in changed:
        current.update(blobs)
        trust = trusts.get(commit) if commit in trusts else _trust_before(commit, trusts, position)
        signers = current.get(trust.allowedSigners) if trust else None
        keys = current.get(trust.openpgpKeys) if trust and trust.openpgpKeys else None
        changes.append((commit, Change(commit, trust, signers, keys), dict(current)))

    def verdict(change: Change, state: InForce) -> Signature:
        return verify(git, [change.commit], _read(git, state.signers), state.since, _read(git, state.keys)).get(
            change.commit, Signature(change.commit, "N"))

    after = walk([c for _, c, _ in changes], verdict)
    indexed = [(position.get(commit, -1), state) for (commit, _, _), state in zip(changes, after)]
    return Screen(git, after[-1].trust if after else trust_now, after[-1] if after else None, position, indexed)


def _trust_before(commit: str, trusts: dict, position: dict) -> TrustSpec | None:
    """The policy's trust as of a change that touched only the allowed signers: the latest
    policy version before it."""
    index = position.get(commit, -1)
    best, found = -1, None
    for other, trust in trusts.items():
        at = position.get(other, -1)
        if best < at < index:
            best, found = at, trust
    return found


def _read(git, blob: str | None) -> bytes | None:
    return git.read_blob(blob) if blob else None


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
            if len(parts) >= 5 and file in paths:
                blobs[file] = None if set(parts[3]) == {"0"} else parts[3]
        found.append((lines[0].strip(), blobs))
    return found


def _texts(git, blobs: list[str]) -> dict[str, str]:
    if not blobs:
        return {}
    request = "".join(f"{b}\n" for b in dict.fromkeys(blobs)).encode()
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=git.root, input=request, capture_output=True,
                         check=True).stdout
    texts, pos = {}, 0
    for blob in dict.fromkeys(blobs):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3:
            size = int(header[2])
            texts[blob] = out[pos:pos + size].decode(errors="replace")
            pos += size + 1
    return texts


def counted(git, ws, events) -> list:
    """The events that count under the policy's spec.trust (all of them without it)."""
    return screen_for(git, ws).screen(events)[0]


def pinned_now(ws) -> dict[str, bool] | None:
    """Which clusters' files hold the revision, from the files the workspace checked
    (None when it read none)."""
    if ws.inspection is None:
        return None
    revision, out = ws.plan.revision, {}
    for target in ws.inspection.targets:
        holds = target.current is not None and target.current.old == revision
        out[target.cluster] = out.get(target.cluster, True) and holds
    return out


def unreleased(git, ws, state, counted, at_revision: dict[str, bool] | None) -> list[Ignored]:
    """Under spec.trust: waves not out whose pinned files hold the revision, when the
    commit that last changed those files is no advance or revert that counted (a pusher
    pinned them by hand, or forged an advance). One `git log` per such wave: none at all
    on a rollout that only its own signed advances moved."""
    if not at_revision:
        return []
    plan = ws.plan
    trusted = {e.commit for e in counted if e.policy == plan.policy and e.action in ("advance", "revert")}
    found = []
    for wave in state.waves:
        if wave.status in OUT or wave.status == "reverted":
            continue
        holding = [c for c in plan.wave(wave.number).clusters if at_revision.get(c)]
        if not holding:
            continue
        files = sorted({t.file for c in holding for t in plan.pins.get(c, ())})
        last = git.run("log", "-1", "--format=%H", "HEAD", "--", *files, check=False).strip()
        if not last or last in trusted:
            continue
        shown = ", ".join(holding[:3]) + (f" and {len(holding) - 3} more" if len(holding) > 3 else "")
        found.append(Ignored(last, "pin", f"the files of {shown} hold {plan.revision} without a trusted advance "
                             f"(this commit changed them last); an allowed signer vouches for them with "
                             f"`rollout advance {plan.policy} --wave {wave.number} --force`, or reverts it",
                             wave.name))
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
        raise UsageError(f"{name} has spec.trust: a {what} counts only when signed by an allowed signer, and git "
                         "does not sign here: set commit.gpgsign true, gpg.format ssh and user.signingkey "
                         "(docs/security.md, \"Signing\")")
    signers = screen._blob(screen.at_tip.signers) if screen.at_tip else None
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
