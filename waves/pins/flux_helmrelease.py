"""Flux HelmRelease: the chart version, `spec.chart.spec.version`."""

from __future__ import annotations

from typing import ClassVar, Literal

from waves.pins.base import PinBase


class FluxHelmReleasePin(PinBase):
    KIND: ClassVar[str] = "helm.toolkit.fluxcd.io/HelmRelease"

    preset: Literal["flux-helmrelease"]

    def field_path(self) -> str:
        return "spec.chart.spec.version"
