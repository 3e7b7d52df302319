"""Flux Kustomization post-build variable: `spec.postBuild.substitute.<VAR>`."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from waves.pins.base import PinBase


class FluxKustomizationVarPin(PinBase):
    GROUP: ClassVar[str] = "kustomize.toolkit.fluxcd.io"
    KIND: ClassVar[str] = "Kustomization"

    preset: Literal["flux-kustomization-var"]
    var: str = Field(description="The substitute variable that holds the revision, e.g. APP_VERSION.")
    create: bool = Field(default=False, description="Add the variable (and postBuild.substitute) where it is "
                         "missing. Without it a missing variable is refused (it is most likely a typo).")

    @field_validator("var")
    @classmethod
    def _var(cls, var: str) -> str:
        # Flux accepts variable names matching this (kustomize-controller's varsub).
        if not re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9]*", var):
            raise ValueError(f"{var!r} is not a variable name (letters, digits, _)")
        return var

    def field_path(self) -> str:
        return f"spec.postBuild.substitute.{self.var}"

    def creates(self) -> str | None:
        return "tail" if self.create else None

    def steps(self, doc: dict, cluster: str) -> list:
        return ["spec", "postBuild", "substitute", self.var]
