"""Observers: how each gate's evidence is fetched, one module per gate, registered by
the gate's name. The verdicts themselves are pure functions in waves/gates/.

Every observer module offers:

    preflight(ctx, config, clusters, reach=False) -> None
        raise SetupError for an operator's set-up mistake (kubeconfig missing or
        unparsable, a context not in it, PromQL rejected): exit 2 before anything is
        written. With `reach` (the wave is about to be advanced), also ask each place the
        evidence will come from once: credentials refused there are a set-up error too.
    observe(ctx, config, clusters) -> list[Check]
        one Check per cluster; state `unknown` when what it reached holds nothing to judge
        (the kstatus gate's empty selection: blind as for that cluster, never failed), or
        when a label its templates need is missing or empty (`nowhere`: the plan refuses
        that; a wave judged on what went out, or from its records, can still meet it);
        `observed=False` when the observer could not reach the
        place that holds the evidence (an observer outage is never a cluster failure);
        `refused=True` as well when that place refused our credentials: access lost after
        the wave went out is a blind gate (halted at progressDeadline), not exit 2 for ever.
    probe(ctx, config, clusters, others) -> bool
        when nothing of the wave could be reached: whether the observer reaches other
        clusters of the fleet (then the wave's clusters are unreachable: pending, failed
        at progressDeadline), or nothing at all (the wave is unknown: never judged).
    places(config: dict) -> list[(context, group, version, namespace, plural)]   (optional)
        the LISTs `observe` makes for any wave of the gate, known from its configuration
        as the policy writes it (a fixed context): `rollout gate` sends them before it
        reads the repo (rollout/observers/ahead.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from rollout.workspace import UsageError

OBSERVERS = {"argocd": "rollout.observers.argocd", "flux": "rollout.observers.flux",
             "prometheus": "rollout.observers.prometheus", "kstatus": "rollout.observers.kstatus",
             "fleet": "rollout.observers.fleet"}


class SetupError(UsageError):
    """The observer is set up wrong (not the fleet): one line, exit 2, nothing written."""


@dataclass
class Check:
    cluster: str
    gate: str
    state: str  # passed | pending | failed | unknown (seen, but nothing to judge: never passed, never failed)
    reason: str
    observed: bool = True  # False: the observer could not reach the evidence
    refused: bool = False  # not observed because our credentials were refused (access lost)
    value: float | None = None  # a metric gate's value, for the evidence record

    def as_dict(self) -> dict:
        out = {"cluster": self.cluster, "gate": self.gate, "state": self.state, "reason": self.reason,
               "observed": self.observed}
        if self.refused:
            out["refused"] = True
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass
class Context:
    """What observers share during one evaluation."""

    ws: object  # the Workspace: plan, policy, inspected pin files
    kube: object  # rollout.observers.kube.Kube
    now: float
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    wave: object | None = None  # the planned wave being judged
    window: int = 60  # seconds since the wave's advance (metric gates look that far back)
    advance_commit: str | None = None  # the wave's advance commit

    def commits_since_advance(self) -> frozenset[str]:
        """The SHAs of the wave's advance commit and of every commit on the branch that
        descends from it: a controller that compared one of them has seen the pin (one `git
        rev-list`). Descends, not merely "came later": a pull request merged with a merge
        commit brings a side branch, and the commits `main` got while it was open came later
        but lack the pin."""
        if self.advance_commit is None:
            return frozenset()
        if not hasattr(self, "_since"):
            from rollout.git.repo import Git

            listed = Git(self.ws.repo).run("rev-list", "--ancestry-path", f"{self.advance_commit}..HEAD", "--")
            self._since = frozenset(listed.split()) | {self.advance_commit}
        return self._since


def observer(gate: str):
    return importlib.import_module(OBSERVERS[gate])


def gate_of(spec) -> tuple[str, object]:
    """(`argocd`, its config) for a gate spec of the policy."""
    name = next(iter(type(spec).model_fields))
    return name, getattr(spec, name)


def nowhere(cluster: str, gate: str, templates: str) -> Check:
    """The check of a cluster a label the gate's templates need is missing or empty for:
    nowhere to look is no evidence either way (`unknown`: the wave is blind, halted at
    progressDeadline, never failed nor reverted on it, never passed)."""
    return Check(cluster, gate, "unknown", f"a label the gate's {templates} template needs is missing or empty: "
                 "nowhere to look", observed=False)
