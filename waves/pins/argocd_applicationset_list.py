"""Argo CD ApplicationSet list generator: a field of the element whose cluster key names
the cluster (`spec.generators[].list.elements[cluster=<name>].targetRevision`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from waves.pins.base import PinBase, PinTargetError


class ArgoCDApplicationSetListPin(PinBase):
    GROUP: ClassVar[str] = "argoproj.io"
    KIND: ClassVar[str] = "ApplicationSet"

    preset: Literal["argocd-applicationset-list"]
    clusterKey: str = Field(default="cluster", description="Element key whose value is the cluster name.")
    field: str = Field(default="targetRevision", description="Element key that holds the revision.")

    def field_path(self) -> str:
        return f"spec.generators[].list.elements[{self.clusterKey}={{cluster}}].{self.field}"

    def steps(self, doc: dict, cluster: str) -> list:
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        found = []
        for g, generator in enumerate(spec.get("generators") or []):
            elements = ((generator or {}).get("list") or {}).get("elements") if isinstance(generator, dict) else None
            for e, element in enumerate(elements or []):
                if isinstance(element, dict) and element.get(self.clusterKey) == cluster:
                    found.append(["spec", "generators", g, "list", "elements", e, self.field])
        if not found:
            raise PinTargetError(f"no list generator element with {self.clusterKey}: {cluster}")
        if len(found) > 1:
            raise PinTargetError(f"{len(found)} list generator elements with {self.clusterKey}: {cluster}")
        return found[0]
