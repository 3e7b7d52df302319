"""Container image references as pins write them: `[<name>=]<image>[:<tag>][@<digest>]`
(Argo CD's `spec.source.kustomize.images` entries, `kustomize edit set image`), a
container's `image:` in a pod template (no `name=`), and the digest syntax of the OCI
image spec.

Parsing splits the text and `str()` joins it back: the parts not pinned come back byte
for byte. `check_name` and `check_tag` follow the reference grammar of
distribution/distribution (reference/regexp.go), which container runtimes resolve."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from waves.pins.base import PinTargetError

# OCI image-spec descriptor digest: algorithm ":" encoded (hex for sha256/sha512).
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
# distribution/reference: name := [domain '/'] path-component ['/' path-component]*
_DOMAIN = r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


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
    """An entry that may name the image it overrides: `[<name>=]<image>[:<tag>][@<digest>]`."""
    alias, equals, rest = text.partition("=")
    if not equals:
        return parse_reference(text)
    return replace(parse_reference(rest), alias=alias)


def parse_reference(text: str) -> ImageRef:
    """A plain reference, `<image>[:<tag>][@<digest>]` (a container's `image:`)."""
    image, at, digest = text.partition("@")
    slash, colon = image.rfind("/"), image.rfind(":")
    tag = None
    if colon > slash:  # a colon before the last slash is a registry port
        image, tag = image[:colon], image[colon + 1:]
    return ImageRef(None, image, tag, digest if at else None)


def is_reference(ref: ImageRef) -> bool:
    """Does `ref` read as an image reference by the grammar runtimes use? (Not `${IMAGE}`,
    not `{{ .Values.image }}`, not upper case in the repository.)"""
    return (bool(_NAME.fullmatch(ref.image)) and (ref.tag is None or bool(_TAG.fullmatch(ref.tag)))
            and (ref.digest is None or bool(_DIGEST.fullmatch(ref.digest))))


def check_name(value: str) -> str:
    """An image's repository as a reference names it, without tag or digest."""
    ref = parse_reference(value)
    if ref.tag is not None or ref.digest is not None:
        raise ValueError(f"{value!r} has a {'tag' if ref.tag is not None else 'digest'}: give the repository alone "
                         f"({ref.image})")
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an image repository ([registry[:port]/]path, lower case)")
    return value


def check_tag(value: str) -> str:
    if not _TAG.fullmatch(value):
        raise PinTargetError(f"{value!r} is not an image tag (letters, digits, _ . -, at most 128, "
                             "not starting with . or -)")
    return value


def check_digest(value: str) -> str:
    if not _DIGEST.fullmatch(value):
        raise PinTargetError(f"{value!r} is not an image digest (sha256:<64 hex digits>)")
    return value
