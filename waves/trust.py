"""Who may move a rollout (`spec.trust`): which records count, decided from their verified
signatures. Pure: the shell (rollout/trust.py) runs `git` to verify each signature
against the allowed signers in force where the record was made, and hands the results
here (docs/security.md).

The rules:
- a record that *releases* something (advance, verify, approve, lift, retry, resume, the
  undoing of a pause) counts only when signed by a key of the allowed signers in force;
  an approval only when that signer is among `approvers`, and the approver it names is the
  signer's principal, never the `--by` text;
- a record that stops or rolls back (revert, halt, pause) counts signed or not: failing
  safe; an unsigned one is reported;
- under trust, a change to the policy file or the allowed signers counts only when signed
  by a signer allowed before it; while the newest such change is not, the rollout releases
  nothing (a pusher cannot add their own key, or drop the rule, and then approve).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace

from pydantic import BaseModel, Field, field_validator

from waves.model_config import STRICT

FORGE_IDENTITIES = ("github:", "gitlab:")  # an approver that is a forge's user: their approving review counts
RELEASING = ("advance", "verify", "approve", "lift", "retry", "resume", "undo")
STOPPING = ("revert", "halt", "pause")


class TrustSpec(BaseModel):
    model_config = STRICT

    allowedSigners: str = Field(
        description="A file in the repo in git's ssh allowed_signers format (`principal namespaces=\"git\" "
        "ssh-ed25519 AAAA...`): the keys whose signed records count, read as of each record's parent.")
    approvers: tuple[str, ...] = Field(
        default=(), description="Who may approve: principals of the allowed signers file (a signed `rollout approve`), "
        "or forge identities `github:LOGIN` / `gitlab:USERNAME` (an approving review of the approval pull request, "
        "recorded in the merge a forge key signed).")
    forges: tuple[str, ...] = Field(
        default=(), description="Principals of the allowed signers (or of openpgpKeys) that are a forge's own merge "
        "keys (GitHub's web-flow): a merge they sign counts for the records it carries; an approval it carries counts "
        "for the reviewer it names, when that reviewer is an approver.")
    openpgpKeys: str | None = Field(
        default=None, description="A file in the repo of ASCII-armoured OpenPGP public keys that may sign too (a forge "
        "that signs with OpenPGP, as GitHub's web-flow does); a key's principal is its user ID's email.")

    @field_validator("allowedSigners", "openpgpKeys")
    @classmethod
    def _relative(cls, path: str | None) -> str | None:
        if path is None:
            return None
        path = posixpath.normpath(path.strip()) if path.strip() else path
        if not path.strip() or path.startswith("/") or ".." in path.split("/") or path == ".":
            raise ValueError(f"{path!r}: a path inside the repository, relative to its top level")
        return path


KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")


def allowed_signers(text: str) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """The principals of a file in git's ssh allowed_signers format (ssh-keygen(1),
    ALLOWED SIGNERS: `principals [options] keytype base64-key [comment]`), each with its
    first line, and the lines that are not of that format (line, why)."""
    principals: dict[str, int] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) < 3 or not any(w in KEY_TYPES for w in words[1:]):
            problems.append((number, "not `principals [options] keytype key`: no ssh key type (ssh-ed25519, "
                                     "ssh-rsa, ecdsa-sha2-...) on the line"))
            continue
        for principal in words[0].split(","):
            principals.setdefault(principal.strip('"'), number)
    return principals, problems


def first_principals(text: str) -> set[str]:
    """The principals git names a signer by: the first of each line's list (`%GS`)."""
    firsts = set()
    for line in text.splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            firsts.add(words[0].split(",")[0].strip('"'))
    return firsts


@dataclass(frozen=True)
class Signature:
    """A commit's signature as `git` verified it against the allowed signers in force."""

    commit: str
    # git's %G?: G good, U good but the key is not allowed, N none, B bad, E cannot check, X/Y/R
    # expired/revoked; T: not checked, made while an unsigned change to the trust stood
    status: str
    principal: str | None = None  # whom the allowed signers name for the key (G only)
    key: str | None = None  # the key's fingerprint
    signers_from: str | None = None  # the commit whose allowed signers the record was checked against

    @property
    def good(self) -> bool:
        return self.status == "G" and bool(self.principal)

    def describe(self) -> str:
        return {
            "G": f"signed by {self.principal}",
            "U": f"signed by a key not in the allowed signers ({self.key or 'unknown key'})",
            "N": "not signed",
            "B": "its signature does not verify (the commit was altered, or signed by another key)",
            "E": "its signature cannot be checked (an OpenPGP signature, or a key format git cannot read)",
            "F": f"signed by the forge ({self.principal}) off the followed branch's first-parent line: a forge "
                 "signs its web editor's and API's commits too, so its key counts for its merges only",
            "T": f"made while {(self.signers_from or '')[:12]}, an unsigned change to the policy or its allowed "
                 "signers, stood",
            "X": "signed with an expired signature", "Y": "signed by an expired key", "R": "signed by a revoked key",
        }.get(self.status, f"signature status {self.status}")


UNSIGNED = Signature("", "N")


@dataclass(frozen=True)
class Ignored:
    """A record that does not count, or a change that holds the rollout, and why."""

    commit: str
    action: str  # the record's action; `policy` or `signers` for a change of those files; `pin` for pinned files
    why: str
    wave: str = ""
    by: str | None = None  # the signer, when signed

    def line(self) -> str:
        what = f"{self.action} of wave {self.wave}" if self.wave else self.action
        return f"{self.commit[:12]} ({what}): {self.why}"


def admits(action: str, signature: Signature, trust: TrustSpec, named: str | None = None) -> str | None:
    """Why a record with `action` and `signature` does not count (None: it counts).
    `named`: the approver the record names (`Rollout-Approved-By`), which counts only in a
    merge a forge key signed (the reviewer the forge reported); otherwise the signer is the approver."""
    if action not in RELEASING:
        return None  # a stop counts signed or not
    if not signature.good:
        return f"{signature.describe()}; a {action} record must be signed by an allowed signer"
    if signature.principal in trust.forges and action not in ("advance", "approve"):
        return (f"signed by the forge ({signature.principal}): a forge's merge counts for the advance or the "
                f"approval it lands, not for a {action}")
    if action != "approve":
        return None
    if signature.principal in trust.forges:
        if named in trust.approvers:
            return None
        return (f"merged by the forge ({signature.principal}), and the reviewer it names ({named or 'none'}) is not "
                "among spec.trust.approvers")
    if signature.principal not in trust.approvers:
        return f"signed by {signature.principal}, who is not among spec.trust.approvers"
    return None


def approver(signature: Signature, trust: TrustSpec, named: str | None) -> str | None:
    """Who an approval that counts names: the forge's reviewer in a forge's merge, else the signer."""
    return named if signature.principal in trust.forges else signature.principal


def screen(events, signatures: dict[str, Signature], trusts: dict[str, TrustSpec]):
    """(the events that count, the records ignored, the stops honoured unsigned).
    `trusts[commit]`: the trust in force where the record was made. An approval, a lift or
    a retry that counts names its signer (an approval in a forge's merge: its reviewer);
    `events` are waves.state.Event or waves.pause.PauseEvent."""
    kept, ignored, unsigned = [], [], []
    for event in events:
        signature = signatures.get(event.commit, UNSIGNED)
        trust = trusts[event.commit]
        why = admits(event.action, signature, trust, getattr(event, "by", None))
        if why is not None:
            ignored.append(Ignored(event.commit, event.action, why, getattr(event, "wave", ""), signature.principal))
            continue
        if event.action in STOPPING and not signature.good:
            unsigned.append(Ignored(event.commit, event.action, f"{signature.describe()}: honoured (a stop "
                                    "counts signed or not)", getattr(event, "wave", "")))
        if signature.good and event.action in ("approve", "lift", "retry"):
            event = replace(event, by=approver(signature, trust, event.by) if event.action == "approve"
                            else signature.principal)
        kept.append(event)
    return kept, ignored, unsigned


POLICY = "policy"  # the policy file's role among the trust files (its path may have aliases: rollouts/NAME.yml)


@dataclass(frozen=True)
class Change:
    """A commit of the followed branch's first-parent line that changed a trust file: the
    policy, or a file a version of its spec.trust named (allowed signers, OpenPGP keys)."""

    commit: str
    blobs: dict  # every trust file after it: POLICY or a path -> blob id (None: absent)
    changed: frozenset  # the ones it changed


@dataclass(frozen=True)
class InForce:
    """What holds after a change: each trust file as the last change that counted for it
    set it, the trust its policy says, and the newest change that did not count while what
    it made still stands (the rollout releases nothing meanwhile)."""

    trust: TrustSpec | None
    blobs: dict  # POLICY and the trust's files -> the blob in force
    since: str | None  # the last change that counted
    untrusted: Ignored | None = None

    @property
    def signers(self) -> str | None:
        return self.blobs.get(self.trust.allowedSigners) if self.trust else None

    @property
    def keys(self) -> str | None:
        return self.blobs.get(self.trust.openpgpKeys) if self.trust and self.trust.openpgpKeys else None

    def files(self) -> list:
        return [POLICY] + ([self.trust.allowedSigners] if self.trust else []) + (
            [self.trust.openpgpKeys] if self.trust and self.trust.openpgpKeys else [])


def walk(changes: list[Change], trust_of, verdict) -> list[InForce]:
    """What is in force after each change, oldest first. `trust_of(policy blob)` reads a
    policy version's spec.trust; `verdict(change, in_force)` is the change's signature
    verified against what is in force before it (the shell runs git).

    A change counts when no trust with an allowed signers file was in force before it (it
    introduces them), or when signed by an allowed signer; then it sets the files *it*
    changed, and only those: an unsigned edit made earlier that still stands is not adopted
    by a later signed change of another file. While any trust file differs from what is in
    force, the newest change that made it so holds the rollout."""
    state = InForce(None, {}, None)
    after = []
    for change in changes:
        introducing = state.trust is None or state.signers is None
        signature = None if introducing else verdict(change, state)
        good = introducing or signature.good
        blobs = dict(change.blobs) if introducing else dict(state.blobs)
        if good and not introducing:
            blobs.update({path: change.blobs.get(path) for path in change.changed})
        trust = trust_of(blobs.get(POLICY))
        for path in (trust.allowedSigners, trust.openpgpKeys) if trust and good else ():
            if path and path not in blobs:  # a file the counted policy names anew: as it is now
                blobs[path] = change.blobs.get(path)
        new = InForce(trust, blobs, change.commit if good else state.since)
        standing = [path for path in new.files() if change.blobs.get(path) != blobs.get(path)]
        if standing:
            why = (signature.describe() if not good else "an earlier change no allowed signer signed still stands")
            culprit = state.untrusted if good and state.untrusted else Ignored(
                change.commit, "policy", f"{why}: a change to the policy or its trust files "
                f"({', '.join('the policy' if p == POLICY else p for p in standing)}) under spec.trust counts only "
                "when signed by a signer allowed before it; nothing is released until a signer signs a change "
                "that sets them again (`git revert -S` of it)")
            new = replace(new, untrusted=culprit)
        state = new
        after.append(state)
    return after
