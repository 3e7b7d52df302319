"""What a command did: the changes it committed (one per wave), published or proposed, and
its notes. Every command returns one; `--format json` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    advance: str | None = None  # a late join's revert, verify or halt: the late join's commit


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
    stuck: list[str] = field(default_factory=list)  # reverts not committed: they restore nothing, a cluster stays on the revision
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
            "stuck": self.stuck,  # reverts not committed (they would restore nothing): a person decides
            "held": self.held,
            "paused": self.paused,
        }
