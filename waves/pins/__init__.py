"""Pin presets: where in a manifest the rollout writes its revision.

One module per preset, each a pydantic model whose `preset` literal is its registered
name; `PinSpec` is the discriminated union the policy uses, so `rollout schema` shows
each preset's own options.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from waves.pins.argocd_application import ArgoCDApplicationPin
from waves.pins.argocd_application_image import ArgoCDApplicationImagePin
from waves.pins.argocd_applicationset_list import ArgoCDApplicationSetListPin
from waves.pins.base import PinBase
from waves.pins.fleet_gitrepo import FleetGitRepoPin
from waves.pins.flux_gitrepository import FluxGitRepositoryPin
from waves.pins.flux_helmrelease import FluxHelmReleasePin
from waves.pins.flux_kustomization_var import FluxKustomizationVarPin
from waves.pins.flux_ocirepository import FluxOCIRepositoryPin
from waves.pins.kubernetes_image import KubernetesImagePin
from waves.pins.kustomize_image import KustomizeImagePin
from waves.pins.kustomize_image_digest import KustomizeImageDigestPin
from waves.pins.yaml_field import YamlFieldPin

_PRESET_MODELS: tuple[type[PinBase], ...] = (
    ArgoCDApplicationPin,
    ArgoCDApplicationImagePin,
    ArgoCDApplicationSetListPin,
    FluxGitRepositoryPin,
    FluxOCIRepositoryPin,
    FluxHelmReleasePin,
    FluxKustomizationVarPin,
    KustomizeImagePin,
    KustomizeImageDigestPin,
    KubernetesImagePin,
    FleetGitRepoPin,
    YamlFieldPin,
)

PRESETS: dict[str, type[PinBase]] = {
    model.model_fields["preset"].annotation.__args__[0]: model for model in _PRESET_MODELS
}

PinSpec = Annotated[Union[_PRESET_MODELS], Field(discriminator="preset")]  # type: ignore[valid-type]

__all__ = ["PRESETS", "PinBase", "PinSpec"]
