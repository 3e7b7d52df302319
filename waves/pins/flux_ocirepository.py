"""Flux OCIRepository: `spec.ref.<tag|semver|digest>`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, refuse_overridden
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
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        refuse_overridden(spec.get("ref"), ["spec", "ref"], self.ref, _WINNERS.get(self.ref, ()),
                          "for Flux's source-controller")
        return ["spec", "ref", self.ref]

    def check_revision(self, revision: str) -> None:
        if self.ref == "digest":
            check_digest(revision)


# Flux source-controller: digest wins over semver, semver over tag (docs/spec/v1/ocirepositories.md).
_WINNERS = {"tag": ("digest", "semver"), "semver": ("digest",)}
