"""Where a pinned document says its configuration comes from, one reader per pin preset
that knows it (registered by preset name):

* `argocd-application`: `spec.source` or each `spec.sources[]` entry: `repoURL` and
  `path`, plus `kustomize.components` and `helm.valueFiles` (`$ref/...` names another
  source's repository) (argo-cd, pkg/apis/application/v1alpha1/types.go:
  ApplicationSource);
* `flux-kustomization-var`: `spec.path` of the Kustomization, its repository the
  `GitRepository` named by `spec.sourceRef` when that is in the same file
  (fluxcd/kustomize-controller, api/v1/kustomization_types.go);
* `fleet-gitrepo`: `spec.repo` and each of `spec.paths` (rancher/fleet,
  pkg/apis/fleet.cattle.io/v1alpha1/gitrepo_types.go).

Other presets (a HelmRelease; an image tag in a kustomization, `kustomize-image`, or in a
pod template, `kubernetes-image`) carry no source: with `identity.sourcePath` the
cluster's folder stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    """A file or folder the source adds to what its path deploys: Argo CD's
    `kustomize.components` and `helm.valueFiles`. `target` is from the repository root;
    `repo_url` is set when it is another source's repository (`$values/...`)."""

    loc: tuple
    ref: str
    target: str
    folder: bool
    repo_url: str | None = None


@dataclass(frozen=True)
class SourceRef:
    """One source of a pinned document: `path` in `repo_url`, written at `loc`."""

    kind: str
    repo_url: str | None
    path: str | None
    loc: tuple  # where the path is (or would be) written
    recurse: bool = False  # a plain folder is read with its subfolders
    why_not: str | None = None  # set when this source cannot be followed at all
    extras: tuple[Extra, ...] = ()


def argocd_application(docs: list, index: int) -> list[SourceRef]:
    spec = _dict(docs[index].get("spec"))
    sources = spec.get("sources")
    if isinstance(sources, list):
        entries = [(("spec", "sources", i), s) for i, s in enumerate(sources) if isinstance(s, dict)]
    else:
        entries = [(("spec", "source"), _dict(spec.get("source")))]
    refs = {s.get("ref"): s.get("repoURL") for _, s in entries if isinstance(s.get("ref"), str)}
    out = []
    for loc, source in entries:
        url = source.get("repoURL") if isinstance(source.get("repoURL"), str) else None
        path = source.get("path")
        recurse = bool(_dict(source.get("directory")).get("recurse"))
        extras = _argocd_extras(loc, source, path if isinstance(path, str) else ".", refs)
        if source.get("chart") is not None:
            if any(e.repo_url for e in extras):  # a chart from a registry, its values from a repository
                out.append(SourceRef("Application", url, None, loc + ("chart",), extras=extras))
            else:
                out.append(SourceRef("Application", url, None, loc + ("chart",), why_not="a Helm chart, not a folder"))
        elif not isinstance(path, str):
            out.append(SourceRef("Application", url, None, loc, why_not="no path", extras=extras))
        else:
            out.append(SourceRef("Application", url, path, loc + ("path",), recurse, extras=extras))
    return out


def _argocd_extras(loc: tuple, source: dict, path: str, refs: dict) -> tuple[Extra, ...]:
    """`kustomize.components` (relative to the path) and `helm.valueFiles` (relative to
    the path, or `$<ref>/...` from the root of the source named `ref`); URLs are skipped."""
    out = []
    components = _dict(source.get("kustomize")).get("components")
    for i, ref in enumerate(components if isinstance(components, list) else []):
        if isinstance(ref, str):
            out.append(Extra(loc + ("kustomize", "components", i), ref, _join(path, ref), True))
    values = _dict(source.get("helm")).get("valueFiles")
    for i, ref in enumerate(values if isinstance(values, list) else []):
        if not isinstance(ref, str) or "://" in ref:
            continue
        where = loc + ("helm", "valueFiles", i)
        if ref.startswith("$"):
            name, _, rest = ref[1:].partition("/")
            if isinstance(refs.get(name), str):
                out.append(Extra(where, ref, _join(".", rest), False, refs[name]))
        else:
            out.append(Extra(where, ref, _join(path, ref), False))
    return tuple(out)


def _join(base: str, ref: str) -> str:
    import posixpath

    return posixpath.normpath(posixpath.join(base.strip().lstrip("/") or ".", ref))


def flux_kustomization(docs: list, index: int) -> list[SourceRef]:
    spec = _dict(docs[index].get("spec"))
    path = spec.get("path") if isinstance(spec.get("path"), str) else "./"
    ref = _dict(spec.get("sourceRef"))
    kind, name = ref.get("kind"), ref.get("name")
    loc = ("spec", "path")
    if kind != "GitRepository":
        return [SourceRef("Kustomization", None, path, loc, True, why_not=f"its source is a {kind}, not a Git repository")]
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "GitRepository" and _dict(doc.get("metadata")).get("name") == name:
            url = _dict(doc.get("spec")).get("url")
            return [SourceRef("Kustomization", url if isinstance(url, str) else None, path, loc, True)]
    return [SourceRef("Kustomization", None, path, loc, True,
                      why_not=f"its GitRepository {name} is not in this file, so its URL is unknown")]


def fleet_gitrepo(docs: list, index: int) -> list[SourceRef]:
    spec = _dict(docs[index].get("spec"))
    url = spec.get("repo") if isinstance(spec.get("repo"), str) else None
    paths = spec.get("paths")
    if not isinstance(paths, list) or not paths:
        return [SourceRef("GitRepo", url, ".", ("spec", "repo"), True)]
    return [SourceRef("GitRepo", url, p, ("spec", "paths", i), True) for i, p in enumerate(paths) if isinstance(p, str)]


READERS = {
    "argocd-application": argocd_application,
    "flux-kustomization-var": flux_kustomization,
    "fleet-gitrepo": fleet_gitrepo,
}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}
