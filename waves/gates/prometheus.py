"""Prometheus gate: a PromQL query per cluster, held within bounds over the bake window."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from waves.templates import check_template


class PrometheusGateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Base URL of the Prometheus HTTP API.")
    query: str = Field(description="PromQL with {cluster} and {labels.<key>} placeholders.")
    max: float | None = Field(default=None, description="Fail when the value rises above this.")
    min: float | None = Field(default=None, description="Fail when the value falls below this.")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url

    @field_validator("query")
    @classmethod
    def _query(cls, query: str) -> str:
        # PromQL uses braces for label matchers; only {cluster} and {labels.x} are ours.
        import re

        for name in re.findall(r"\{(cluster|labels\.[^{}\s]+)\}", query):
            check_template("{" + name + "}")
        return query

    @model_validator(mode="after")
    def _bounds(self) -> "PrometheusGateConfig":
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class PrometheusGate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prometheus: PrometheusGateConfig
