"""Container image references as pins write them: `[<name>=]<image>[:<tag>][@<digest>]`
(Argo CD's `spec.source.kustomize.images` entries, `kustomize edit set image`), and the
digest syntax of the OCI image spec."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from waves.pins.base import PinTargetError

# OCI image-spec descriptor digest: algorithm ":" encoded (hex for sha256/sha512).
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")


@dataclass(frozen=True)
class ImageRef:
    alias: str | None  # the `name=` part: which image the override applies to
    image: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return self.alias if self.alias is not None else self.image

    def __str__(self) -> str:
        return ((f"{self.alias}=" if self.alias is not None else "") + self.image
                + (f":{self.tag}" if self.tag is not None else "") + (f"@{self.digest}" if self.digest is not None else ""))

    def with_tag(self, tag: str) -> "ImageRef":
        if self.digest is not None:
            raise PinTargetError(
                f"{self} also has a digest, and with tag@digest the digest is what runs: a new tag would change "
                "nothing; pin the digest instead (field: digest), or remove the digest")
        return replace(self, tag=tag)


def parse_image(text: str) -> ImageRef:
    alias, equals, rest = text.partition("=")
    if not equals:
        alias, rest = None, text
    image, at, digest = rest.partition("@")
    slash, colon = image.rfind("/"), image.rfind(":")
    tag = None
    if colon > slash:  # a colon before the last slash is a registry port
        image, tag = image[:colon], image[colon + 1:]
    return ImageRef(alias, image, tag, digest if at else None)


def check_digest(value: str) -> str:
    if not _DIGEST.fullmatch(value):
        raise PinTargetError(f"{value!r} is not an image digest (sha256:<64 hex digits>)")
    return value
