"""kustomize `images:` override pinned by digest: `images[name=<image>].digest`.

The revision must be an image digest (`sha256:<hex>`). A digest wins over the entry's
`newTag` (kept as it is), so this is the pin for entries that carry both."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, PinTargetError
from waves.pins.images import check_digest


class KustomizeImageDigestPin(PinBase):
    GROUP: ClassVar[str] = "kustomize.config.k8s.io"
    KIND: ClassVar[str] = "Kustomization"

    preset: Literal["kustomize-image-digest"]
    image: str = Field(description="The images[] entry, by its name.")

    def field_path(self) -> str:
        return f"images[name={self.image}].digest"

    def is_kind(self, doc: dict) -> bool:
        # kustomization.yaml may leave out apiVersion and kind altogether.
        return PinBase.is_kind(self, doc) or ("kind" not in doc and "apiVersion" not in doc)

    def steps(self, doc: dict, cluster: str) -> list:
        if not isinstance(doc.get("images"), list):
            raise PinTargetError(f"no images list (add an entry with name: {self.image})",
                                 ["images"] if "images" in doc else None)
        return ["images", ("name", self.image), "digest"]

    def check_revision(self, revision: str) -> None:
        check_digest(revision)
