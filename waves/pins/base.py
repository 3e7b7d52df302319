"""What every pin preset shares: which files (a per-cluster template) and, where a file
holds several documents of the preset's kind, which one (by `metadata.name`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from waves.templates import check_template


class PinBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    files: str = Field(
        description="Path of the manifest to edit, relative to the repo root; "
        "a template with {cluster} and {labels.<key>}."
    )
    name: str | None = Field(
        default=None,
        description="metadata.name of the document to edit when a file holds several "
        "of this kind (a template).",
    )

    @field_validator("files", "name")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            if not value.strip():
                raise ValueError("must not be empty")
            check_template(value)
        return value

    @field_validator("files")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} must be a path inside the repository")
        return value

    # Subclasses: the `kind` of document edited and the field, for people reading a plan.
    KIND: ClassVar[str] = ""

    def field_path(self) -> str:
        raise NotImplementedError
