"""`rollout health`: why is it pending? Each object judged as the gates judge it, in
kstatus's words (Current, InProgress, Failed, Terminating, Unknown), with the reason, the
message and the evidence it rests on (docs/health.md).

Objects come from files (`-f`, `-` for stdin, a folder's .yaml/.yml/.json; `kind: List`
and `kubectl get -o yaml` lists are opened) or from a cluster (`--context --kind`). Argo
CD Applications and Flux Kustomizations / HelmReleases go through the rollout's own gate
judges (waves/gates/argocd.py, flux.py) at `--revision`, else at the revision they target
themselves; every other object through kstatus (waves/gates/kstatus.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from waves.gates import kstatus
from waves.problems import Problem

FLUX = {("kustomize.toolkit.fluxcd.io", "Kustomization"), ("helm.toolkit.fluxcd.io", "HelmRelease")}
ARGOCD = ("argoproj.io", "Application")
_GATE_STATUS = {"passed": kstatus.CURRENT, "pending": kstatus.IN_PROGRESS, "failed": kstatus.FAILED}


@dataclass
class Entry:
    api_version: str
    kind: str
    namespace: str
    name: str
    status: str
    reason: str
    message: str
    evidence: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name,
                "status": self.status, "reason": self.reason, "message": self.message, "evidence": self.evidence}


# --- reading objects ----------------------------------------------------------------------------


def read_files(names: list[str], stdin=None) -> list[dict]:
    """Every object of the files named (in order), or InvalidInput with one located problem
    per bad document (file:line: field: what)."""
    from rollout.errors import InvalidInput

    objects: list[dict] = []
    problems: list[Problem] = []
    for name in names:
        for path, text in _texts(name, stdin, problems):
            objects += _objects(path, text, problems)
    if problems:
        raise InvalidInput(problems)
    return objects


def _texts(name: str, stdin, problems: list[Problem]):
    from rollout.yamlfile import YamlError, read_text

    if name == "-":
        yield "-", (stdin or sys.stdin).read()
        return
    path = Path(name)
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file()) \
        if path.is_dir() else [path]
    for file in files:
        try:
            yield str(file), read_text(file)
        except YamlError as err:
            problems.append(Problem(err.message, (), str(err.path), line=err.line))


def _objects(path: str, text: str, problems: list[Problem]) -> list[dict]:
    from rollout.yamlfile import Located, YamlError, load_documents

    try:
        documents = load_documents(Path(path), text, datetimes=False)
    except YamlError as err:
        problems.append(Problem(err.message, (), path, line=err.line))
        return []
    found, bad = [], []
    for index, doc in enumerate(documents):
        items = doc.get("items") if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else None
        if isinstance(items, list):
            for i, item in enumerate(items):
                why = _not_an_object(item)
                if why:
                    bad.append((index, ("items", i, *why[0]), why[1]))
                else:
                    found.append(item)
        elif why := _not_an_object(doc):
            bad.append((index, *why))
        else:
            found.append(doc)
    if bad:
        located = Located.parse(path, text)
        problems += [Problem(message, loc, path, line=located.line(loc, index)) for index, loc, message in bad]
    return found


def _not_an_object(doc) -> tuple[tuple, str] | None:
    """(loc, why) when `doc` is not a Kubernetes object kstatus can judge."""
    if not isinstance(doc, dict):
        return (), "not a Kubernetes object (a mapping with apiVersion and kind)"
    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            return (key,), "missing: every Kubernetes object names it" if key not in doc else "must be text"
    if "metadata" in doc and not isinstance(doc["metadata"], (dict, type(None))):
        return ("metadata",), "must be a mapping (name, namespace, ...)"
    return None


# --- judging ----------------------------------------------------------------------------------------


def judge(obj: dict, now: float, revision: str | None = None) -> Entry:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    group = api_version.rpartition("/")[0]
    entry = Entry(api_version, kind, str(metadata.get("namespace") or ""), str(metadata.get("name") or ""), "", "", "")
    if (group, kind) == ARGOCD:
        entry.status, entry.reason, entry.message = _argocd(obj, now, revision)
        entry.evidence = _argocd_evidence(obj)
        return entry
    if (group, kind) in FLUX:
        judged = _flux(obj, revision)
        if judged is not None:
            entry.status, entry.reason, entry.message = judged
            entry.evidence = kstatus.evidence(obj)
            return entry
    result = kstatus.compute(obj, now)
    entry.status, entry.reason, entry.message = result.status, result.reason, result.message
    entry.evidence = kstatus.evidence(obj)
    return entry


def _argocd(app: dict, now: float, revision: str | None) -> tuple[str, str, str]:
    from waves.gates.argocd import judge as argocd_judge

    if revision is None:
        spec = app.get("spec") if isinstance(app.get("spec"), dict) else {}
        sources = spec.get("sources") if isinstance(spec.get("sources"), list) else [spec.get("source")]
        targets = {str(s.get("targetRevision") or "HEAD") for s in sources if isinstance(s, dict)}
        if len(targets) != 1:
            return (kstatus.UNKNOWN, "ArgoCDGate", "its sources target different revisions ("
                    f"{', '.join(sorted(targets)) or 'none'}): give --revision")
        revision = targets.pop()
    verdict = argocd_judge(app, revision, now=now)
    return _GATE_STATUS[verdict.state], "ArgoCDGate", f"at {revision}: {verdict.reason}"


def _flux(obj: dict, revision: str | None) -> tuple[str, str, str] | None:
    """The flux gate's verdict, at `revision` or else at the revision the object last
    attempted; None when there is neither (kstatus then: Flux writes its conditions)."""
    from waves.gates.flux import judge as flux_judge

    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    revision = revision or status.get("lastAttemptedRevision")
    if not isinstance(revision, str) or not revision:
        return None
    verdict = flux_judge(obj, revision)
    return _GATE_STATUS[verdict.state], "FluxGate", f"at {revision}: {verdict.reason}"


def _argocd_evidence(app: dict) -> list[str]:
    status = app.get("status") if isinstance(app.get("status"), dict) else {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    operation = status.get("operationState") or {}
    out = []
    if isinstance(sync, dict) and sync.get("status"):
        out.append(f"sync {sync['status']}" + (f" at {str(sync['revision'])[:12]}" if sync.get("revision") else ""))
    if isinstance(health, dict) and health.get("status"):
        out.append(f"health {health['status']}")
    if isinstance(operation, dict) and operation.get("phase"):
        out.append(f"operation {operation['phase']}")
    return out


# --- the command --------------------------------------------------------------------------------------


def live(kubeconfig: str | None, context: str | None, kind_name: str, namespace: str | None,
         selector: str | None) -> tuple[list[dict] | None, str]:
    """The objects of a kind on a cluster, as the gates list them; (None, why) when its API
    cannot be reached. Set-up errors (a kubeconfig or context that is not there, a
    selector or kind that is not one, refused credentials) are UsageError: exit 2."""
    from rollout.observers import SetupError
    from rollout.observers.kube import Kube
    from rollout.workspace import UsageError
    from waves.selectors import parse_selector

    try:
        kind = kstatus.resolve_kind(kind_name)
        if selector is not None:
            parse_selector(selector)
    except ValueError as err:
        raise UsageError(f"--kind/--selector: {err}") from None
    kube = Kube(kubeconfig)
    kube.check_context(context, "rollout health")
    if namespace is None:
        namespace = _context_namespace(kube, context)
    items, why = kube.list_kind(context, kind, namespace, selector)
    if items is None and kube.refused(context):
        raise SetupError(f"{why}: fix the kubeconfig's user or RBAC")
    return items, why


def _context_namespace(kube, context: str | None) -> str:
    """The context's namespace in the kubeconfig, as kubectl takes it; else `default`."""
    data = kube.data() if not (kube.in_cluster() and context is None) else None
    if data:
        wanted = context or data.get("current-context")
        for entry in data.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") == wanted:
                return str((entry.get("context") or {}).get("namespace") or "default")
    return "default"


def exit_code(entries: list[Entry]) -> int:
    """0 every object Current, 1 any Failed, 3 anything else, nothing at all included (as
    `rollout gate`: an empty selection never passes)."""
    if any(e.status == kstatus.FAILED for e in entries):
        return 1
    return 0 if entries and all(e.status == kstatus.CURRENT for e in entries) else 3
