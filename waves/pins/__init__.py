"""Pin presets: where in a manifest the rollout writes its revision.

One module per preset, each a pydantic model whose `preset` literal is its registered
name; `PinSpec` is the tagged union the policy uses, so `rollout schema` shows each
preset's own options. A preset's module is imported when a policy names it
(waves/registry.py): planning an Argo CD fleet never loads the Flux presets.
"""

from __future__ import annotations

from typing import Annotated

from waves.pins.base import PinBase
from waves.registry import LazyUnion, Registry

# The order is the schema's and the messages' (`presets: ...`); tests/test_registry.py
# checks each name against its model's `preset` literal and that every preset module is here.
PRESETS = Registry({
    "argocd-application": "waves.pins.argocd_application:ArgoCDApplicationPin",
    "argocd-application-image": "waves.pins.argocd_application_image:ArgoCDApplicationImagePin",
    "argocd-applicationset-list": "waves.pins.argocd_applicationset_list:ArgoCDApplicationSetListPin",
    "flux-gitrepository": "waves.pins.flux_gitrepository:FluxGitRepositoryPin",
    "flux-ocirepository": "waves.pins.flux_ocirepository:FluxOCIRepositoryPin",
    "flux-helmrelease": "waves.pins.flux_helmrelease:FluxHelmReleasePin",
    "flux-kustomization-var": "waves.pins.flux_kustomization_var:FluxKustomizationVarPin",
    "kustomize-image": "waves.pins.kustomize_image:KustomizeImagePin",
    "kustomize-image-digest": "waves.pins.kustomize_image_digest:KustomizeImageDigestPin",
    "kubernetes-image": "waves.pins.kubernetes_image:KubernetesImagePin",
    "fleet-gitrepo": "waves.pins.fleet_gitrepo:FleetGitRepoPin",
    "yaml-field": "waves.pins.yaml_field:YamlFieldPin",
})

PinSpec = Annotated[PinBase, LazyUnion(PRESETS, "preset")]

__all__ = ["PRESETS", "PinBase", "PinSpec"]
