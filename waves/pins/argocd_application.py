"""Argo CD Application: `spec.source.targetRevision`, or for a multi-source Application
the `spec.sources[]` entry chosen by `repoURL` (and optionally other fields in `match`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase


class ArgoCDApplicationPin(PinBase):
    KIND: ClassVar[str] = "argoproj.io/Application"

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
