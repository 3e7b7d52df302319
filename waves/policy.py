"""The rollout policy (`rollouts/<name>.yaml`, kind RolloutPolicy) as pydantic models.

Field names are the YAML keys, so validation errors point at what the user wrote and
`rollout schema` is the policy's own JSON Schema. Unknown keys are errors everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from waves.delivery import DeliverySpec
from waves.durations import Duration
from waves.gates import GateSpec
from waves.model_config import STRICT
from waves.notify import NotifySpec
from waves.pins import PinSpec
from waves.selectors import LabelSelector, label_key_problem
from waves.templates import check_template
from waves.trust import TrustSpec
from waves.windows import Window

API_VERSION = "rollout/v1alpha1"

def _count_or_percent(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a whole number or a percentage such as \"25%\"")
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*%\s*", value)
        if not match or not 0 < int(match.group(1)) <= 100:
            raise ValueError(f"{value!r} is not a count or a percentage from 1% to 100%")
        return value.strip()
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    raise ValueError("must be a whole number or a percentage such as \"25%\"")


CountOrPercent = Annotated[
    int | str,
    BeforeValidator(_count_or_percent),
    WithJsonSchema({"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^\d+%$"}]}),
]


def resolve_count(spec: int | str, total: int) -> int:
    """`3` -> 3; `"25%"` of 10 -> 3 (rounded up, at least 1 when total > 0)."""
    if isinstance(spec, int):
        return spec
    percent = int(spec.rstrip("%").strip())
    return max(1, -(-total * percent // 100)) if total else 0


def failure_budget(spec: int | str, total: int) -> int:
    """How many of a wave's `total` clusters may fail their gates and the wave still pass
    (`spec.maxFailures`): a count, or a percentage rounded down (`"10%"` of 5 -> 0, not
    1), and never all of them. A budget is for a few flaky clusters among many: a wave
    whose every cluster failed has failed, whatever it says (rounding up, or a count as big
    as the wave, would pass a one-cluster canary that failed)."""
    allowed = spec if isinstance(spec, int) else total * int(spec.rstrip("%").strip()) // 100
    return max(0, min(allowed, total - 1))


_WAVE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class Strict(BaseModel):
    model_config = STRICT


class Metadata(Strict):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _WAVE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} must be lower-case letters, digits and '-'")
        return name


class HubSource(Strict):
    """A live inventory source: one paginated LIST on a hub, through the kubeconfig the gates
    use (docs/inventory.md)."""

    context: str | None = Field(default=None, description="kubeconfig context of the hub (default: the current one).")
    namespace: str | None = Field(default=None, description="Namespace the objects live in.")
    selector: LabelSelector | None = Field(
        default=None, description="Label selector sent to the API server with the LIST (metadata.labels only).")

    NAMESPACED: ClassVar[bool] = True  # the kind's scope; a cluster-scoped kind takes no namespace

    @model_validator(mode="after")
    def _scope(self) -> "HubSource":
        if self.NAMESPACED and not (self.namespace or "").strip():
            raise ValueError("namespace is required: the namespace the hub keeps these objects in")
        if not self.NAMESPACED and self.namespace is not None:
            raise ValueError("these objects are cluster-scoped: no namespace")
        return self

    def label_selector(self) -> str | None:
        """The selector as the API server's `labelSelector` parameter (None: every object)."""
        return str(self.selector) if self.selector is not None and self.selector.requirements() else None


class ClusterScopedSource(HubSource):
    NAMESPACED: ClassVar[bool] = False


class FleetClusterSource(HubSource):
    agentCheckinInterval: Duration = Field(
        default=15 * 60, description="Fleet's agentCheckinInterval: an agent not seen for three of them is offline "
        "(Fleet's own cluster monitor rule).")


def _file_or_hub(value: object) -> str:
    return "inventory-file" if isinstance(value, str) else "inventory-hub"


# a glob of files in the repo, or a LIST on a hub; the tags keep pydantic's errors to the one
# the user meant (rollout/policy_file.py drops them from the located path)
FileOrHub = Annotated[Annotated[str, Tag("inventory-file")] | Annotated[HubSource, Tag("inventory-hub")],
                      Discriminator(_file_or_hub)]


class InventorySource(Strict):
    """Exactly one of the fields: where clusters and their labels come from. A path or
    glob names files in the repo; a mapping ({context, namespace, selector}) a LIST on a hub."""

    fleet: str | None = Field(default=None, description="A Fleet file (kind Fleet, clusters: [...]).")
    argocdClusterSecrets: FileOrHub | None = Field(
        default=None, description="Glob of Argo CD cluster Secret manifests, or {context, namespace} on a hub.")
    clusterAPI: FileOrHub | None = Field(
        default=None, description="Glob of Cluster API Cluster manifests, or {context, namespace} on a hub.")
    kustomizeClusters: str | None = Field(
        default=None, description="Glob of clusters/<name>/kustomization.yaml files."
    )
    clusterProfiles: HubSource | None = Field(
        default=None, description="ClusterProfiles (multicluster.x-k8s.io/v1alpha1) on a hub: {context, namespace}.")
    managedClusters: ClusterScopedSource | None = Field(
        default=None, description="Open Cluster Management ManagedClusters (cluster-scoped) on a hub: {context}.")
    fleetClusters: FleetClusterSource | None = Field(
        default=None, description="Rancher Fleet Clusters (fleet.cattle.io/v1alpha1) on a hub: {context, namespace}.")

    @model_validator(mode="after")
    def _one(self) -> "InventorySource":
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"each inventory source names exactly one of {', '.join(type(self).model_fields)}")
        path = getattr(self, given[0])
        if isinstance(path, str) and (not path.strip() or path.startswith("/") or ".." in path.split("/")):
            raise ValueError(f"{path!r} must be a path inside the repository")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @property
    def live(self) -> bool:
        """Read from a hub, not from a file: nothing in the repo (no blob) says what it
        will list, so whatever depends on it (a plan) must not be cached across LISTs."""
        return isinstance(getattr(self, self.kind), HubSource)

    @property
    def path(self) -> str | None:
        """The path or glob of a file source; None for a live one."""
        value = getattr(self, self.kind)
        return value if isinstance(value, str) else None

    @property
    def hub(self) -> HubSource | None:
        value = getattr(self, self.kind)
        return value if isinstance(value, HubSource) else None


class Constraints(Strict):
    isolateBy: tuple[str, ...] = Field(
        default=(), description="Label keys whose values no wave may mix (an absent label is a value of its own)."
    )
    maxWaveSize: int | None = Field(default=None, ge=1, description="No wave may hold more clusters than this.")

    @field_validator("isolateBy")
    @classmethod
    def _keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            if problem := label_key_problem(key):
                raise ValueError(problem)
        return keys


class Identity(Strict):
    """Targeting safety (docs/git-engine.md): what each cluster deploys must be its own.

    `files` + `require`: the `cluster-identity` configMapGenerator literals in each
    cluster's own file agree with its labels. `reachable` (default): every
    cluster-identity generator reachable from the cluster's source (its Application's
    path, followed through the kustomization graph) must name that cluster too.
    `sourcePath`: the folder each cluster's source must be, for fleets without generators."""

    files: str | None = Field(
        default=None, description="Template of the kustomization.yaml holding the cluster's cluster-identity generator."
    )
    require: dict[str, str] = Field(
        default_factory=dict,
        description="Literal name -> expected value (template; glob patterns such as '{labels.region}-*').",
    )
    reachable: bool = Field(
        default=True,
        description="Every cluster-identity generator reachable from the cluster's source must match `require`.",
    )
    sourcePath: str | None = Field(
        default=None,
        description="Template of the folder each cluster's source must deploy, e.g. clusters/{cluster}; "
        "for pins without a source (a HelmRelease in the cluster's folder) the folder that is followed.",
    )

    @field_validator("files")
    @classmethod
    def _files(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @field_validator("require")
    @classmethod
    def _require(cls, value: dict[str, str]) -> dict[str, str]:
        for template in value.values():
            check_template(template)
        return value

    @field_validator("sourcePath")
    @classmethod
    def _source_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_template(value)
        path = value.strip().removeprefix("./").rstrip("/")
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"{value!r} must be a folder inside the repository")
        return path

    @model_validator(mode="after")
    def _something_to_check(self) -> "Identity":
        if self.files is not None and not self.require:
            raise ValueError("identity.files needs require: the literals to compare")
        if self.require and self.files is None and not self.reachable:
            raise ValueError("identity.require is checked in identity.files or, with reachable: true, "
                             "in every generator the source reaches: give files or keep reachable")
        if not self.require and self.sourcePath is None:
            raise ValueError("identity needs require (the cluster-identity literals) or sourcePath")
        return self


def _repo_url(value: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError(f"{value!r} is not a repository URL")
    return value.strip()


class WaveSpec(Strict):
    name: str
    selector: LabelSelector | None = Field(
        default=None, description="Clusters this wave claims; none: every in-scope cluster not yet claimed."
    )
    groupBy: str | None = Field(default=None, description="Label key: one wave per value, named <name>-<value>.")
    after: tuple[str, ...] | None = Field(
        default=None, description="Waves this one waits for (default: the previous wave)."
    )
    maxClusters: CountOrPercent | None = Field(
        default=None, description="Split into sequential batches <name>/1, <name>/2... of at most this many."
    )
    bake: Duration = Field(default=0, description="How long the wave must stay healthy before the next may go.")
    gates: tuple[GateSpec, ...] | None = Field(default=None, description="Replaces spec.gates for this wave.")
    approval: Literal["required"] | None = Field(
        default=None, description="'required': the next wave waits for `rollout approve`."
    )
    windows: tuple[Window, ...] | None = Field(default=None, description="Replaces spec.windows for this wave.")

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _WAVE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} must be lower-case letters, digits and '-' (no '/')")
        return name

    @field_validator("groupBy")
    @classmethod
    def _group(cls, key: str | None) -> str | None:
        if key is not None and (problem := label_key_problem(key)):
            raise ValueError(problem)
        return key

    @field_validator("maxClusters")
    @classmethod
    def _positive(cls, value: int | str | None) -> int | str | None:
        if value == 0:
            raise ValueError("must be at least 1")
        return value


class OnFailure(Strict):
    action: Literal["revert", "halt"] = Field(default="revert", description="revert: a revert commit; halt: a halt record.")
    scope: Literal["wave", "rollout"] = Field(
        default="wave", description="wave: the failed waves; rollout: every wave that is out, newest first "
        "(what Argo Rollouts' abort does).")


def _on_failure(value):
    """`onFailure: halt` is short for `onFailure: {action: halt}`."""
    return {"action": value} if isinstance(value, str) else value


_ON_FAILURE_SCHEMA = {
    "description": "What a failed gate does: revert or halt the failed waves, or {action, scope}.",
    "default": "revert",
    "anyOf": [{"type": "string", "enum": ["revert", "halt"]},
              {"type": "object", "additionalProperties": False,
               "properties": {"action": {"type": "string", "enum": ["revert", "halt"]},
                              "scope": {"type": "string", "enum": ["wave", "rollout"]}}}],
}


class PolicySpec(Strict):
    revision: str = Field(description="What gets pinned: a tag, branch, SHA, chart version or image tag.")
    inventory: tuple[InventorySource, ...] = Field(min_length=1)
    targets: LabelSelector | None = Field(default=None, description="Clusters the rollout covers (default: all).")
    pin: tuple[PinSpec, ...] = Field(min_length=1)
    waves: tuple[WaveSpec, ...] = Field(min_length=1)
    constraints: Constraints = Field(default_factory=Constraints)
    onFailure: Annotated[OnFailure, BeforeValidator(_on_failure), WithJsonSchema(_ON_FAILURE_SCHEMA)] = Field(
        default_factory=OnFailure)
    gates: tuple[GateSpec, ...] = ()
    progressDeadline: Duration | None = None
    maxFailures: CountOrPercent = 0
    identity: Identity | None = None
    sourceRepos: tuple[Annotated[str, BeforeValidator(_repo_url)], ...] | None = Field(
        default=None,
        description="The URLs by which the GitOps controllers know this repository (default: the origin "
        "remote's URL); a pinned source with one of them is followed through the repository.",
    )
    windows: tuple[Window, ...] = Field(default=(), description="When waves may start (docs/operating.md).")
    notify: tuple[NotifySpec, ...] = Field(default=(), description="Where to send rollout events (docs/operating.md).")
    delivery: DeliverySpec = Field(default_factory=DeliverySpec,
                                   description="How commits reach the followed branch: push, or pull requests (docs/delivery.md).")
    trust: TrustSpec | None = Field(default=None, description="Who may move the rollout: records that release "
                                    "something count only when signed by an allowed signer (docs/security.md).")
    unavailable: Literal["skip", "wait", "include"] = Field(
        default="skip", description="A cluster its live source says is down when its wave is advanced: skip (pin the "
        "others; it joins late once back), wait (hold the wave), include (pin it anyway). A wave whose clusters are "
        "all down waits. Decides only what is pinned, never what is judged (docs/inventory.md).")

    @field_validator("revision")
    @classmethod
    def _revision(cls, revision: str) -> str:
        if not revision.strip() or revision != revision.strip() or "\n" in revision:
            raise ValueError(f"{revision!r} is not a revision")
        return revision


class RolloutPolicy(Strict):
    apiVersion: Literal["rollout/v1alpha1"]
    kind: Literal["RolloutPolicy"]
    metadata: Metadata
    spec: PolicySpec
