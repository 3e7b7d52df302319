"""kustomize `images:` override: `images[name=<image>].newTag` (or newName / digest).

An entry that has a `digest` runs that digest whatever its `newTag` says (kustomize
writes `image:tag@digest`, and a runtime pulls by digest): pinning `newTag` there would
change nothing, so it is refused with that reason (pin it with `kustomize-image-digest`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, PinTargetError
from waves.pins.images import check_digest


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
        return PinBase.is_kind(self, doc) or ("kind" not in doc and "apiVersion" not in doc)

    def steps(self, doc: dict, cluster: str) -> list:
        images = doc.get("images")
        if not isinstance(images, list):
            raise PinTargetError(f"no images list (add an entry with name: {self.image})",
                                 ["images"] if "images" in doc else None)
        found = [i for i, entry in enumerate(images) if isinstance(entry, dict) and str(entry.get("name")) == self.image]
        if len(found) == 1 and self.field == "newTag" and images[found[0]].get("digest") is not None:
            raise PinTargetError(
                f"images[name={self.image}] also has digest: {images[found[0]]['digest']}, which wins over newTag "
                "(kustomize writes image:tag@digest and the digest is what runs): a new tag would change nothing; "
                "pin the digest with kustomize-image-digest, or remove the digest", ["images", found[0], "digest"])
        return ["images", ("name", self.image), self.field]

    def check_revision(self, revision: str) -> None:
        if self.field == "digest":
            check_digest(revision)
