"""Flux GitRepository: `spec.ref.<tag|branch|semver|commit|name>`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase


class FluxGitRepositoryPin(PinBase):
    GROUP: ClassVar[str] = "source.toolkit.fluxcd.io"
    KIND: ClassVar[str] = "GitRepository"

    preset: Literal["flux-gitrepository"]
    ref: Literal["tag", "branch", "semver", "commit", "name"] = Field(
        default="tag", description="Which spec.ref field holds the revision."
    )

    def field_path(self) -> str:
        return f"spec.ref.{self.ref}"

    def steps(self, doc: dict, cluster: str) -> list:
        return ["spec", "ref", self.ref]
