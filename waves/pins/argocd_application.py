"""Argo CD Application: `spec.source.targetRevision`, or for a multi-source Application
the `spec.sources[]` entry chosen by `repoURL` (and optionally other fields in `match`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, PinTargetError


class ArgoCDApplicationPin(PinBase):
    GROUP: ClassVar[str] = "argoproj.io"
    KIND: ClassVar[str] = "Application"

    preset: Literal["argocd-application"]
    repoURL: str | None = Field(
        default=None, description="Multi-source Applications: the spec.sources[] entry with this repoURL."
    )
    match: dict[str, str] | None = Field(
        default=None,
        description="Multi-source Applications: further fields the spec.sources[] entry must have "
        "(for example chart or path).",
    )

    def field_path(self) -> str:
        if self.repoURL or self.match:
            sel = ",".join(f"{k}={v}" for k, v in ({"repoURL": self.repoURL} | (self.match or {})).items() if v)
            return f"spec.sources[{sel}].targetRevision"
        return "spec.source.targetRevision"

    def steps(self, doc: dict, cluster: str) -> list:
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        want = {**({"repoURL": self.repoURL} if self.repoURL else {}), **(self.match or {})}
        sources = spec.get("sources")
        if isinstance(sources, list):
            if not want:
                raise PinTargetError("multi-source Application: set repoURL (or match) to choose the spec.sources[] entry")
            found = [i for i, s in enumerate(sources) if isinstance(s, dict) and all(str(s.get(k)) == v for k, v in want.items())]
            what = ", ".join(f"{k}: {v}" for k, v in want.items())
            if len(found) != 1:
                raise PinTargetError(f"spec.sources has {len(found) or 'no'} entries with {what}")
            return ["spec", "sources", found[0], "targetRevision"]
        source = spec.get("source")
        if isinstance(source, dict):
            for key, value in want.items():
                if str(source.get(key)) != value:
                    raise PinTargetError(f"spec.source.{key} is {source.get(key)!r}, not {value!r}")
        return ["spec", "source", "targetRevision"]
