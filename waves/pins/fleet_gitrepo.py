"""Rancher Fleet GitRepo: `spec.revision` (or `spec.branch`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, refuse_overridden


class FleetGitRepoPin(PinBase):
    GROUP: ClassVar[str] = "fleet.cattle.io"
    KIND: ClassVar[str] = "GitRepo"

    preset: Literal["fleet-gitrepo"]
    field: Literal["revision", "branch"] = Field(default="revision")

    def field_path(self) -> str:
        return f"spec.{self.field}"

    def steps(self, doc: dict, cluster: str) -> list:
        if self.field == "branch":  # Fleet checks out spec.revision when it is set
            refuse_overridden(doc.get("spec"), ["spec"], "branch", ("revision",), "for Fleet")
        return ["spec", self.field]
