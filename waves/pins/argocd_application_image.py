"""Argo CD Application image pins, in the Application itself:

* `image`: a `spec.source.kustomize.images` entry, `[<name>=]<image>[:<tag>][@<digest>]`,
  chosen by its name (the part before `=`, else the image); `field: tag` (default) or
  `digest` is rewritten inside the entry, the rest kept;
* `helmParameter`: `spec.source.helm.parameters[name=<parameter>].value`;
* `valuesPath`: a path in `spec.source.helm.valuesObject` (`image.tag`);

the last two hold the revision as their whole value, or, with `field`, an image
reference whose tag or digest is pinned (`image.name: nginx:1.25.3`).

A multi-source Application chooses its `spec.sources[]` entry as `argocd-application`
does (repoURL, ref, chart, index). `helm.values` is a string of YAML: a pin cannot edit
inside it byte-exactly, so it is refused pointing at `valuesObject`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from waves.pins.argocd_application import SourceSelector
from waves.pins.base import PinBase, PinTargetError, format_steps
from waves.pins.images import check_digest, parse_image
from waves.pins.yaml_field import parse_field_path


class ArgoCDApplicationImagePin(SourceSelector, PinBase):
    GROUP: ClassVar[str] = "argoproj.io"
    KIND: ClassVar[str] = "Application"

    preset: Literal["argocd-application-image"]
    image: str | None = Field(default=None, description="kustomize.images: the entry for this image name.")
    field: Literal["tag", "digest"] | None = Field(
        default=None,
        description="Which part of an image reference to pin: tag or digest. Default: the tag of a kustomize.images "
        "entry, the whole value of a helm parameter or valuesObject field (set it when that value is a whole "
        "image reference, repo:tag@digest).",
    )
    helmParameter: str | None = Field(default=None, description="helm.parameters: the parameter's name (image.tag).")
    valuesPath: str | None = Field(default=None, description="helm.valuesObject: the path to the value (image.tag).")
    create: bool = Field(default=False, description="valuesPath: add the value, with every missing mapping on its "
                         "path, where it is missing. Without it a missing key is refused (it is most likely a typo).")

    @field_validator("valuesPath")
    @classmethod
    def _values_path(cls, path: str | None) -> str | None:
        if path is not None:
            parse_field_path(path)
        return path

    @model_validator(mode="after")
    def _one_place(self):
        given = [k for k in ("image", "helmParameter", "valuesPath") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of image (kustomize images), helmParameter or valuesPath "
                             f"(helm valuesObject){', not ' + ' and '.join(given) if given else ''}")
        if self.create and self.valuesPath is None:
            raise ValueError("create applies to valuesPath only: kustomize images and helm parameters entries "
                             "are not created")
        return self

    def creates(self) -> str | None:
        if self.valuesPath is None:
            return "leaf"
        return "tail" if self.create else None

    @property
    def part(self) -> str | None:
        """The part of an image reference pinned (tag / digest), None: the whole value."""
        return self.field or ("tag" if self.image is not None else None)

    def field_path(self) -> str:
        source = self.source_label()
        if self.image is not None:
            return f"{source}.kustomize.images[{self.image}]:{self.part}"
        part = f":{self.part}" if self.part else ""
        if self.helmParameter is not None:
            return f"{source}.helm.parameters[name={self.helmParameter}].value{part}"
        return f"{source}.helm.valuesObject.{self.valuesPath}{part}"

    def steps(self, doc: dict, cluster: str) -> list:
        source_path = self.source_steps(doc)
        source = doc["spec"][source_path[1]] if len(source_path) == 2 else doc["spec"]["sources"][source_path[2]]
        where = format_steps(source_path)
        if self.image is not None:
            kustomize = source.get("kustomize") if isinstance(source.get("kustomize"), dict) else {}
            images = kustomize.get("images")
            if not isinstance(images, list):
                raise PinTargetError(f"{where}.kustomize has no images list (add \"{self.image}=<image>:<tag>\")",
                                     source_path)
            found = [i for i, entry in enumerate(images) if isinstance(entry, str) and parse_image(entry).name == self.image]
            if len(found) != 1:
                names = ", ".join(parse_image(e).name for e in images if isinstance(e, str)) or "none"
                raise PinTargetError(f"{where}.kustomize.images has {len(found) or 'no'} entries for {self.image} "
                                     f"(images named: {names})", source_path + ["kustomize", "images"])
            return source_path + ["kustomize", "images", found[0]]
        helm = source.get("helm") if isinstance(source.get("helm"), dict) else {}
        if self.helmParameter is not None:
            return source_path + ["helm", "parameters", ("name", self.helmParameter), "value"]
        parameters = [p.get("name") for p in helm.get("parameters") or [] if isinstance(p, dict)]
        if self.valuesPath in parameters:
            raise PinTargetError(f"{where}.helm.parameters sets {self.valuesPath}, and Argo CD's helm parameters win "
                                 f"over valuesObject: pinning valuesObject.{self.valuesPath} would change nothing; pin "
                                 "it with helmParameter instead", source_path + ["helm", "parameters"])
        if "valuesObject" not in helm and isinstance(helm.get("values"), str):
            raise PinTargetError(f"{where}.helm.values is a string of YAML, which cannot be pinned in place: move "
                                 "the values to helm.valuesObject", source_path + ["helm", "values"])
        return source_path + ["helm", "valuesObject", *parse_field_path(self.valuesPath)]

    def read(self, scalar: str | None) -> str | None:
        if self.part is None or scalar is None:
            return scalar
        ref = parse_image(scalar)
        return ref.tag if self.part == "tag" else ref.digest

    def write(self, scalar: str | None, value: str | None) -> str | None:
        if self.part is None:
            return value
        if scalar is None:
            raise PinTargetError("the field is absent: an image reference to pin a part of must be there")
        ref = parse_image(scalar)
        if value is None:  # revert to a reference without a tag (or digest): the rest stays
            return str(replace(ref, **{self.part: None}))
        return str(ref.with_tag(value) if self.part == "tag" else replace(ref, digest=value))

    def check_revision(self, revision: str) -> None:
        if self.part == "digest":
            check_digest(revision)
