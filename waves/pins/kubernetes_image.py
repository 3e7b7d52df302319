"""A container's image in any object with a pod template: the tag (or, with `part: digest`,
the digest) of `containers[].image` / `initContainers[].image`, the rest of the reference
(registry, repository, the other part) kept byte for byte.

Where the pod spec is, per kind (the API group from `apiVersion`, any version):

  apps Deployment, StatefulSet, DaemonSet, ReplicaSet    spec.template.spec
  core ReplicationController                             spec.template.spec
  batch Job                                              spec.template.spec
  batch CronJob                                          spec.jobTemplate.spec.template.spec
  core Pod                                               spec
  argoproj.io Rollout (Argo Rollouts)                    spec.template.spec

The container is chosen by `container` (its name) or `image` (its repository as written,
`docker.io/org/app`, compared exactly as kustomize's image transformer does), exactly one
of them. A file may hold several objects: the one whose pod spec has the container is
edited; several such objects, or several containers in one (`image` run by a container
and an init container), are refused naming each, and `name` / `kind` choose.

Init containers (and native sidecars, `restartPolicy: Always`) are searched with the
containers. Ephemeral containers are not: the API server refuses them in a pod template
("ephemeral containers not allowed in pod template") and on create ("cannot be set on
create"), so a manifest in git cannot deploy one; a pin that finds only one says so.

An image with a digest runs that digest whatever its tag says (`repo:tag@sha256:...`):
pinning its tag would change nothing, so it is refused naming the digest (pin `part:
digest`). A Rollout with `spec.workloadRef` has no template of its own: refused, naming
the object that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from waves.pins.base import PinBase, PinTargetError, format_steps
from waves.pins.images import ImageRef, check_digest, check_name, check_tag, is_reference, parse_reference
from waves.templates import render

# (API group, kind) -> path from the document to its PodSpec.
POD_SPECS: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    ("", "Pod"): ("spec",),
    ("argoproj.io", "Rollout"): ("spec", "template", "spec"),
}
WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job",
                       "CronJob", "Pod", "Rollout"]
KINDS: tuple[str, ...] = get_args(WorkloadKind)
SEARCHED = ("containers", "initContainers")


@dataclass(frozen=True)
class Container:
    """One container of a pod spec: where it is and what it runs."""

    path: list  # to the entry: [..., "containers", 0]
    entry: dict

    @property
    def name(self) -> str:
        return str(self.entry.get("name"))

    @property
    def image(self) -> object:
        return self.entry.get("image")

    @property
    def ephemeral(self) -> bool:
        return self.path[-2] == "ephemeralContainers"

    def where(self) -> str:
        return f"{format_steps(self.path)} ({self.name})"


def group_of(doc: dict) -> str | None:
    api = doc.get("apiVersion")
    return api.rpartition("/")[0] if isinstance(api, str) else None


def describe(doc: dict) -> str:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return f"{doc.get('kind')} {metadata.get('name', '(no name)')}"


class KubernetesImagePin(PinBase):
    preset: Literal["kubernetes-image"]
    container: str | None = Field(default=None, description="The container (or init container), by its name.")
    image: str | None = Field(
        default=None,
        description="The container (or init container) running this image: its repository as written, without tag "
        "or digest (docker.io/org/app, registry.k8s.io/nginx-slim).",
    )
    part: Literal["tag", "digest"] = Field(
        default="tag", description="Which part of the image reference to pin: tag (default) or digest.")
    kind: WorkloadKind | None = Field(default=None, description="Only objects of this kind (Rollout: Argo Rollouts).")

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return check_name(value) if value is not None else None

    @model_validator(mode="after")
    def _one_choice(self):
        if (self.container is None) == (self.image is None):
            raise ValueError("set exactly one of container (its name) or image (its repository)"
                             + (", not both" if self.container is not None else ""))
        return self

    def describe_kind(self) -> str:
        return self.kind or "workload"

    def selector(self) -> str:
        return f"container {self.container}" if self.container is not None else f"image {self.image}"

    def wanted(self) -> str:
        return (f"container named {self.container}" if self.container is not None
                else f"container runs image {self.image} (its repository as written)")

    def field_path(self) -> str:
        where = f"[name={self.container}]" if self.container is not None else f"[image={self.image}]"
        return f"containers{where}.image:{self.part}"

    # Finding the object and the container.

    def pod_spec(self, doc: object) -> tuple[str, ...] | None:
        """The path to the document's PodSpec, when it is a kind with one (and the pin's kind)."""
        if not isinstance(doc, dict) or (self.kind is not None and doc.get("kind") != self.kind):
            return None
        return POD_SPECS.get((group_of(doc), doc.get("kind")))

    def containers(self, doc: dict) -> list[Container]:
        """Every container of the document's pod spec, ephemeral ones included (to name them)."""
        path = self.pod_spec(doc)
        node: object = doc
        for step in path or ():
            node = node.get(step) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return []
        out = []
        for key in (*SEARCHED, "ephemeralContainers"):
            entries = node.get(key)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                if isinstance(entry, dict):
                    out.append(Container([*path, key, i], entry))
        return out

    def chooses(self, container: Container) -> bool:
        if self.container is not None:
            return container.name == self.container
        image = container.image
        return isinstance(image, str) and parse_reference(image).image == self.image

    def chosen(self, doc: dict) -> list[Container]:
        return [c for c in self.containers(doc) if not c.ephemeral and self.chooses(c)]

    def is_kind(self, doc: dict) -> bool:
        return self.pod_spec(doc) is not None

    def matches(self, doc: object, cluster: str, labels: dict[str, str]) -> bool:
        return PinBase.matches(self, doc, cluster, labels) and bool(self.chosen(doc))

    def explain_choice(self, documents: list, chosen: list[int], cluster: str, labels: dict[str, str]):
        if chosen:  # several objects run it
            names = "; ".join(f"{describe(documents[i])} ({', '.join(c.where() for c in self.chosen(documents[i]))})"
                              for i in chosen)
            second = chosen[1]
            choices = "`name:`, `kind:` or `container:`" if self.image is not None else "`name:` or `kind:`"
            return (f"{self.selector()} is in {len(chosen)} objects of this file: {names}: set {choices} on the pin "
                    "to choose one", second, [*self.chosen(documents[second])[0].path, "image"])
        workloads = [i for i, doc in enumerate(documents) if PinBase.matches(self, doc, cluster, labels)]
        named = f" named {render(self.name, cluster, labels)}" if self.name else ""
        if not workloads:
            return (f"no {self.describe_kind()} object{named} in this file (a pod template is in: "
                    f"{', '.join(KINDS)})", 0 if documents else None, None)
        first = documents[workloads[0]]
        for i in workloads:
            doc = documents[i]
            ephemeral = [c for c in self.containers(doc) if c.ephemeral and self.chooses(c)]
            if ephemeral:
                return (f"{describe(doc)}: {ephemeral[0].where()} is an ephemeral container, which the API server "
                        "refuses in a manifest (not allowed in a pod template, cannot be set on create): there is no "
                        "image there to pin", i, list(ephemeral[0].path))
            spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
            reference = spec.get("workloadRef")
            if doc.get("kind") == "Rollout" and isinstance(reference, dict) and "template" not in spec:
                return (f"{describe(doc)} takes its pod template from {reference.get('kind')} {reference.get('name')} "
                        "(spec.workloadRef): its image is pinned there (kind: "
                        f"{reference.get('kind')}, in the file that holds it)", i, ["spec", "workloadRef"])
        running = "; ".join(
            f"{describe(documents[i])}: " + (", ".join(f"{c.name} ({c.image})" for c in self.containers(documents[i])
                                                        if not c.ephemeral) or "no containers")
            for i in workloads)
        at = self.containers(first)
        return (f"no {self.wanted()} in this file's {self.describe_kind()} objects{named} ({running})", workloads[0],
                list(at[0].path[:-1]) if at else [])

    def steps(self, doc: dict, cluster: str) -> list:
        chosen = self.chosen(doc)
        if len(chosen) > 1:
            raise PinTargetError(
                f"{self.selector()} is {len(chosen)} containers of {describe(doc)}: "
                f"{', '.join(c.where() for c in chosen)}: set "
                + ("`container:` to choose one" if self.image is not None else "one name per container"),
                [*chosen[1].path, "image"])
        container = chosen[0]  # matches() found one
        image, at = container.image, [*container.path, "image"]
        where = format_steps(at)
        if not isinstance(image, str):
            raise PinTargetError(f"{where} is {'missing' if image is None else 'not text'}: the container needs an "
                                 "image reference to pin a part of", at if image is not None else list(container.path))
        ref = parse_reference(image)
        if not is_reference(ref):
            raise PinTargetError(f"{where} is {image!r}, not an image reference ([registry/]repository[:tag]"
                                 "[@digest]): pin a value substituted into it where that value is set", at)
        if self.part == "tag" and ref.digest is not None:
            raise PinTargetError(
                f"{where} also has a digest ({ref.digest}), and with tag@digest the digest is what runs: a new tag "
                "would change nothing; pin the digest instead (part: digest), or remove the digest", at)
        return at

    # The pinned part of the reference.

    def read(self, scalar: str | None) -> str | None:
        if scalar is None:
            return None
        ref = parse_reference(scalar)
        return ref.tag if self.part == "tag" else ref.digest

    def write(self, scalar: str | None, value: str | None) -> str | None:
        if scalar is None:
            raise PinTargetError("the image is absent: a reference to pin a part of must be there")
        ref: ImageRef = parse_reference(scalar)
        if value is None:  # a revert to a reference without it: the rest stays
            return str(replace(ref, **{self.part: None}))
        self.check_revision(value)  # anything else would read back as another reference
        return str(ref.with_tag(value) if self.part == "tag" else replace(ref, digest=value))

    def check_revision(self, revision: str) -> None:
        if self.part == "digest":
            check_digest(revision)
        else:
            check_tag(revision)
