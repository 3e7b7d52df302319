"""kustomize `images:` override: `images[name=<image>].newTag` (or newName / digest)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase


class KustomizeImagePin(PinBase):
    KIND: ClassVar[str] = "kustomize.config.k8s.io/Kustomization"

    preset: Literal["kustomize-image"]
    image: str = Field(description="The images[] entry, by its name.")
    field: Literal["newTag", "newName", "digest"] = Field(default="newTag")

    def field_path(self) -> str:
        return f"images[name={self.image}].{self.field}"
