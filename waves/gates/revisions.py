"""Revisions as Flux writes them, and whether one is what a pin asked for.

Flux records what it applied in several formats (source-controller's artifact revisions,
helm-controller's chart versions):

  main@sha1:<sha>  refs/heads/main@sha1:<sha>  v1.2.3@sha1:<sha>   Git, a named ref
  sha1:<sha>                                                       Git, a bare commit
  main/<sha>  v1.2.3/<sha>                                         Git, before source v1
  latest@sha256:<digest>  sha256:<digest>                          OCI artifacts, buckets
  latest/<digest>  <digest>                                        OCI, before source v1
  6.7.1  6.6.1+<first 12 hex of the digest>                        Helm charts (OCI: +digest)

A pin names a tag or branch, a commit SHA (full or a prefix of at least 7), a digest, a
chart version, or a semver range (Masterminds syntax: `4.0.x`, `>=1.2 <2`, `^1.2`,
`>=1.2, <2`), which the applied version must satisfy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_HEX = re.compile(r"[0-9a-f]{7,64}")
_RANGE_MARKS = re.compile(r"[<>=^~*|, ]|(^|\.)[xX*](\.|$)")


@dataclass(frozen=True)
class Revision:
    ref: str | None  # tag, branch or chart version (build metadata kept)
    digest: str | None  # commit SHA or content digest, without its algorithm


def parse_revision(text: str) -> Revision:
    text = str(text).strip()
    ref, sep, digest = text.rpartition("@")
    if sep:
        return Revision(_short_ref(ref) or None, digest.partition(":")[2] or digest)
    algorithm, sep, digest = text.partition(":")
    if sep and algorithm in ("sha1", "sha256", "sha384", "sha512", "blake3"):
        return Revision(None, digest)
    ref, sep, digest = text.rpartition("/")
    if sep and _HEX.fullmatch(digest) and len(digest) in (40, 64):
        return Revision(_short_ref(ref), digest)  # `main/<sha>`, `latest/<digest>`: source-controller before v1
    if _HEX.fullmatch(text) and len(text) in (40, 64):
        return Revision(None, text)  # a bare digest: OCIRepository before v0.30
    return Revision(_short_ref(text), None)


def _short_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def is_range(pin: str) -> bool:
    return bool(_RANGE_MARKS.search(pin.strip()))


@lru_cache(maxsize=256)
def _spec(pin: str):
    """A Masterminds-style constraint as semantic_version's npm spec (commas are ANDs)."""
    import semantic_version

    text = re.sub(r"\s*,\s*", " ", pin.strip())
    text = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", text)
    try:
        return semantic_version.NpmSpec(text)
    except ValueError:
        return None


def _version(text: str):
    import semantic_version

    try:
        return semantic_version.Version.coerce(text.lstrip("vV"))
    except ValueError:
        return None


def matches(pin: str, applied: str | Revision) -> bool:
    """Whether `applied` (a revision as Flux wrote it) is what `pin` asked for."""
    revision = applied if isinstance(applied, Revision) else parse_revision(applied)
    pin = str(pin).strip()
    if not pin:
        return False
    if revision.digest and _same_digest(pin, revision.digest):
        return True
    ref = revision.ref
    if ref is None:
        return False
    if pin == ref or ("+" not in pin and pin == ref.split("+", 1)[0]):  # OCI charts: 6.6.1+<digest>
        return True
    if is_range(pin):
        spec, version = _spec(pin), _version(ref.split("+", 1)[0])
        return spec is not None and version is not None and version in spec
    return False


def _same_digest(pin: str, digest: str) -> bool:
    value = pin.partition(":")[2] if ":" in pin else pin
    value, digest = value.lower(), digest.lower()
    if not _HEX.fullmatch(value):
        return False
    return digest.startswith(value) if len(value) < len(digest) else value == digest
