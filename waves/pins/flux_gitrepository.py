"""Flux GitRepository: `spec.ref.<tag|branch|semver|commit|name>`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, refuse_overridden


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
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        refuse_overridden(spec.get("ref"), ["spec", "ref"], self.ref, _WINNERS.get(self.ref, ()),
                          "for Flux's source-controller")
        return ["spec", "ref", self.ref]


# Flux source-controller (docs/spec/v1/gitrepositories.md, "Reference"): branch < tag <
# semver < name < commit, later fields winning; commit may be combined with branch.
_WINNERS = {"branch": ("commit", "name", "semver", "tag"), "tag": ("commit", "name", "semver"),
            "semver": ("commit", "name"), "name": ("commit",)}
