"""Argo CD Application: `spec.source.targetRevision`, or for a multi-source Application
the `spec.sources[]` entry chosen by `repoURL`, `ref`, `chart`, `index` (or other fields
in `match`).

Argo CD reads `spec.sources` whenever it is a non-empty list, and then ignores
`spec.source` (Application.Spec.HasMultipleSources), so that is where the pin goes. The
gate must judge the sources that were pinned: `pinned_source_indexes` says which.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from waves.pins.base import PinBase, PinTargetError

_SELECTORS = ("repoURL", "ref", "chart")


class SourceSelector(BaseModel):
    """Which source of an Application a pin writes (shared by the Application presets)."""

    repoURL: str | None = Field(default=None, description="Multi-source: the spec.sources[] entry with this repoURL.")
    ref: str | None = Field(default=None, description="Multi-source: the spec.sources[] entry with this ref.")
    chart: str | None = Field(default=None, description="Multi-source: the spec.sources[] entry with this chart.")
    index: int | None = Field(default=None, ge=0, description="Multi-source: the spec.sources[] entry at this index.")
    match: dict[str, str] | None = Field(
        default=None,
        description="Multi-source: further fields the spec.sources[] entry must have (for example path or name).",
    )

    def wanted(self) -> dict[str, str]:
        return {**{k: getattr(self, k) for k in _SELECTORS if getattr(self, k) is not None}, **(self.match or {})}

    def source_label(self) -> str:
        """`spec.source` or `spec.sources[<selection>]`, for people reading a plan."""
        selection = [f"{k}={v}" for k, v in self.wanted().items()] + ([str(self.index)] if self.index is not None else [])
        return f"spec.sources[{','.join(selection)}]" if selection else "spec.source"

    def source_steps(self, doc: dict) -> list:
        """["spec", "source"] or ["spec", "sources", i]; raises PinTargetError naming the
        choices when the selection is missing, ambiguous or matches nothing."""
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        want = self.wanted()
        sources = spec.get("sources")
        if isinstance(sources, list) and sources:
            return ["spec", "sources", self._choose(sources, want)]
        source = spec.get("source")
        if self.index not in (None, 0):
            raise PinTargetError(f"index {self.index} chooses a spec.sources[] entry, but this Application has a "
                                 "single spec.source", ["spec", "source"])
        if not isinstance(source, dict):
            raise PinTargetError("the Application has neither spec.source nor spec.sources", ["spec"])
        for key, value in want.items():
            if str(source.get(key)) != value:
                raise PinTargetError(f"spec.source.{key} is {source.get(key)!r}, not {value!r}", ["spec", "source"])
        return ["spec", "source"]

    def _choose(self, sources: list, want: dict[str, str]) -> int:
        choices = "; ".join(f"[{i}] {_describe(s)}" for i, s in enumerate(sources))
        if self.index is not None:
            if self.index >= len(sources):
                raise PinTargetError(f"spec.sources has {len(sources)} entries, no [{self.index}]: {choices}",
                                     ["spec", "sources"])
            found = [self.index] if _has(sources[self.index], want) else []
        else:
            if not want:
                if len(sources) == 1:
                    return 0
                raise PinTargetError(f"multi-source Application: choose the spec.sources[] entry to pin with "
                                     f"repoURL, ref, chart or index: {choices}", ["spec", "sources"])
            found = [i for i, s in enumerate(sources) if _has(s, want)]
        if len(found) != 1:
            what = ", ".join(f"{k}: {v}" for k, v in want.items())
            where = f" at [{self.index}]" if self.index is not None else ""
            raise PinTargetError(f"spec.sources has {len(found) or 'no'} entries with {what}{where}: {choices}",
                                 ["spec", "sources"])
        return found[0]


def _has(source: object, want: dict[str, str]) -> bool:
    return isinstance(source, dict) and all(str(source.get(k)) == v for k, v in want.items())


def _describe(source: object) -> str:
    if not isinstance(source, dict):
        return "(not a mapping)"
    return ", ".join(f"{k}={source[k]}" for k in ("repoURL", "chart", "path", "ref", "name") if source.get(k)) or "(empty)"


class ArgoCDApplicationPin(SourceSelector, PinBase):
    GROUP: ClassVar[str] = "argoproj.io"
    KIND: ClassVar[str] = "Application"

    preset: Literal["argocd-application"]

    def field_path(self) -> str:
        return f"{self.source_label()}.targetRevision"

    def steps(self, doc: dict, cluster: str) -> list:
        return self.source_steps(doc) + ["targetRevision"]


def pinned_source_indexes(pin, application: dict) -> list[int] | None:
    """The indexes into `spec.sources` that `pin` (an Argo CD Application preset's model)
    writes for this Application document, or None when the Application uses the single
    `spec.source`. Raises PinTargetError when the pin cannot choose a source (the same
    refusal `rollout validate` reports), never guesses."""
    steps = pin.source_steps(application)
    return [steps[2]] if steps[1] == "sources" else None
