"""`rollout audit POLICY`: every action of every rollout of a policy, oldest first: when,
what, who (the signer git verified, else the commit's author, marked unverified), whether
it counted and why not, and its evidence (a gate pass's, a halt's, a revert's reason).

Read-only, from the history alone: one `git log` for the events, one for the pauses, one
for the commits' authors and bodies, and one per version of the allowed signers
(rollout/trust.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from waves.pause import ALL
from waves.trust import Signature, admits
from rollout.controls import read_pause_events
from rollout.errors import InvalidInput
from rollout.git.history import followed_remote, history_refs, read_events
from rollout.git.repo import Git
from rollout.trust import screen_for
from rollout.workspace import UsageError, load_workspace


def audit(repo: Path, policy_ref: str) -> dict:
    ws = load_workspace(repo, policy_ref)
    if ws.loaded is None or ws.loaded.policy is None:
        raise InvalidInput(ws.problems)
    git = Git(repo)
    if git.toplevel() is None:
        raise UsageError(f"{repo}: not a git repository")
    name = ws.loaded.policy.metadata.name
    refs = history_refs(git, followed_remote(git))
    events = read_events(git, refs, name)
    pauses = [p for p in read_pause_events(git, refs) if p.policy in (name, ALL)]
    screen = screen_for(git, ws)
    commits = [e.commit for e in events] + [p.commit for p in pauses]
    signatures = screen.signatures(commits) if screen is not None else {}
    meta = _commits(git, commits)
    entries = []
    for item in [*events, *pauses]:
        signature = signatures.get(item.commit)
        author, body = meta.get(item.commit, ("", ""))
        under_trust = screen.needs(item.commit)
        why = admits(item.action, signature or Signature(item.commit, "N"), screen.in_force_at(item.commit).trust,
                     getattr(item, "by", None)) if under_trust else None
        entries.append({
            "commit": item.commit,
            "time": _when(item.time),
            "unix": item.time,
            "action": item.action,
            "revision": getattr(item, "revision", None),
            "epoch": getattr(item, "epoch", None),
            "wave": getattr(item, "wave", None) or None,
            "who": _who(signature, screen.in_force_at(item.commit) if under_trust else None, item, author),
            "verified": bool(signature is not None and signature.good),
            "signature": signature.describe() if signature is not None else "not checked: no spec.trust in force",
            "counted": why is None,
            "why": why,
            "named": getattr(item, "by", None),  # what the record says (--by): shown, never trusted
            "evidence": _evidence(item, body),
        })
    entries.sort(key=lambda e: e["unix"])
    return {"policy": name, "trust": screen.trust is not None,
            "blocked": screen.blocked.line() if screen.blocked else None, "actions": entries}


def _who(signature, in_force, item, author: str) -> str:
    """The verified signer; in a forge's merge, the reviewer it names; else the author, as written."""
    if signature is None or not signature.good:
        return author
    if in_force is not None and in_force.trust is not None and signature.principal in in_force.trust.forges \
            and item.action == "approve":
        return f"{getattr(item, 'by', None) or 'no reviewer'} (reviewed; merged by {signature.principal})"
    return signature.principal


def _commits(git, commits: list[str]) -> dict[str, tuple[str, str]]:
    """commit -> (author, body), in one `git log`."""
    if not commits:
        return {}
    out = git.run("log", "--no-walk=unsorted", "--stdin", "--format=%H%x1f%an <%ae>%x1f%b%x1e",
                  input="".join(f"{c}\n" for c in dict.fromkeys(commits)).encode())
    found = {}
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if record:
            commit, author, body = (record.split("\x1f", 2) + ["", ""])[:3]
            found[commit] = (author, body)
    return found


def _evidence(item, body: str) -> list[str]:
    """A gate pass's and a halt's evidence lines, a revert's, pause's or lift's reason."""
    lines = [line[2:] for line in body.splitlines() if line.startswith("- ") and item.action in ("verify", "halt")]
    reason = getattr(item, "reason", None)
    return ([f"reason: {reason}"] if reason else []) + lines


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2)
    head = [f"# Audit of {report['policy']}", "",
            "Records verified under spec.trust." if report["trust"] else
            "Records are not verified: the policy has no spec.trust (docs/security.md).", ""]
    if report["blocked"]:
        head += [f"**Halted by spec.trust:** {report['blocked']}", ""]
    rows = ["| when | action | revision | wave | who | verified | counted | evidence |", "|---|---|---|---|---|---|---|---|"]
    for e in report["actions"]:
        counted = "yes" if e["counted"] else f"no: {e['why']}"
        evidence = "; ".join(e["evidence"])
        who = e["who"] + (f" (says {e['named']})" if e["named"] and e["named"] != e["who"] else "")
        rows.append(f"| {e['time']} | {e['action']} `{e['commit'][:12]}` | {e['revision'] or ''} | {e['wave'] or ''} "
                    f"| {_cell(who)} | {'yes' if e['verified'] else 'no'} | {_cell(counted)} | {_cell(evidence)} |")
    if fmt == "markdown":
        return "\n".join(head + rows)
    lines = head[:1] + head[2:]
    for e in report["actions"]:
        mark = "verified" if e["verified"] else "unverified"
        counted = "" if e["counted"] else f"  IGNORED: {e['why']}"
        where = " ".join(x for x in (e["revision"] or "", f"wave {e['wave']}" if e["wave"] else "") if x)
        lines.append(f"{e['time']} {e['commit'][:12]} {e['action']:<8} {where}  by {e['who']} ({mark}){counted}")
        lines += [f"    {line}" for line in e["evidence"]]
    return "\n".join(line.removeprefix("# ") for line in lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

