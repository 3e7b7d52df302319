"""kustomize `images:` override: `images[name=<image>].newTag` (or newName / digest)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, PinTargetError


class KustomizeImagePin(PinBase):
    GROUP: ClassVar[str] = "kustomize.config.k8s.io"
    KIND: ClassVar[str] = "Kustomization"

    preset: Literal["kustomize-image"]
    image: str = Field(description="The images[] entry, by its name.")
    field: Literal["newTag", "newName", "digest"] = Field(default="newTag")

    def field_path(self) -> str:
        return f"images[name={self.image}].{self.field}"

    def is_kind(self, doc: dict) -> bool:
        # kustomization.yaml may leave out apiVersion and kind altogether.
        return super().is_kind(doc) or ("kind" not in doc and "apiVersion" not in doc)

    def steps(self, doc: dict, cluster: str) -> list:
        if not isinstance(doc.get("images"), list):
            raise PinTargetError(f"no images list (add an entry with name: {self.image})")
        return ["images", ("name", self.image), self.field]
