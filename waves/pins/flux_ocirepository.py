"""Flux OCIRepository: `spec.ref.<tag|semver|digest>`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase
from waves.pins.images import check_digest


class FluxOCIRepositoryPin(PinBase):
    GROUP: ClassVar[str] = "source.toolkit.fluxcd.io"
    KIND: ClassVar[str] = "OCIRepository"

    preset: Literal["flux-ocirepository"]
    ref: Literal["tag", "semver", "digest"] = Field(
        default="tag", description="Which spec.ref field holds the revision."
    )

    def field_path(self) -> str:
        return f"spec.ref.{self.ref}"

    def steps(self, doc: dict, cluster: str) -> list:
        return ["spec", "ref", self.ref]

    def check_revision(self, revision: str) -> None:
        if self.ref == "digest":
            check_digest(revision)
