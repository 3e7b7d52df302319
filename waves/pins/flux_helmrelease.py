"""Flux HelmRelease: the chart version, `spec.chart.spec.version`."""

from __future__ import annotations

from typing import ClassVar, Literal

from waves.pins.base import PinBase, PinTargetError


class FluxHelmReleasePin(PinBase):
    GROUP: ClassVar[str] = "helm.toolkit.fluxcd.io"
    KIND: ClassVar[str] = "HelmRelease"

    preset: Literal["flux-helmrelease"]

    def field_path(self) -> str:
        return "spec.chart.spec.version"

    def steps(self, doc: dict, cluster: str) -> list:
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        if "chartRef" in spec and "chart" not in spec:
            raise PinTargetError("uses spec.chartRef, which has no version: pin the OCIRepository or HelmChart it names",
                                 ["spec", "chartRef"])
        return ["spec", "chart", "spec", "version"]
