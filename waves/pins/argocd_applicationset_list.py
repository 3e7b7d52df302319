"""Argo CD ApplicationSet list generator: a field of the element whose cluster key names
the cluster (`spec.generators[].list.elements[cluster=<name>].targetRevision`), also in
a list nested in `matrix` / `merge` generators.

Proof of effect: a generator element's key changes the Applications only if the
template reads it. The template (`spec.template`, the generators' own `template`
overrides, `spec.templatePatch`) must reference the key, as fasttemplate `{{key}}` or,
with `goTemplate: true`, `{{ .key }}`; otherwise the pin is refused naming the template
field that would have to read it. Parameters of git / cluster generators come from a
repository or from Argo CD's cluster Secrets, not from this file: the refusal says so.
(Argo CD: applicationset/utils/utils.go `Replace`, fasttemplate tags are trimmed.)
"""

from __future__ import annotations

import re
from typing import ClassVar, Iterator, Literal

from pydantic import Field, field_validator

from waves.pins.base import PinBase, PinTargetError, format_steps

_COMBINERS = ("matrix", "merge")
# Generators whose parameters come from outside this file.
_EXTERNAL = {
    "git": "a git repository's directories or files",
    "clusters": "Argo CD's cluster Secrets",
    "clusterDecisionResource": "a cluster decision resource",
    "scmProvider": "an SCM provider's repositories",
    "pullRequest": "open pull requests",
    "plugin": "a generator plugin",
}


class ArgoCDApplicationSetListPin(PinBase):
    GROUP: ClassVar[str] = "argoproj.io"
    KIND: ClassVar[str] = "ApplicationSet"
    PER_CLUSTER: ClassVar[bool] = True  # each cluster's own element

    preset: Literal["argocd-applicationset-list"]
    clusterKey: str = Field(default="cluster", description="Element key whose value is the cluster name.")
    field: str = Field(
        default="targetRevision",
        description="Element key that holds the revision; `values.<key>` for a key under the element's `values`.",
    )

    @field_validator("field")
    @classmethod
    def _field(cls, field: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", field):
            raise ValueError(f"{field!r} is not an element key (letters, digits, _ and -, dotted for nesting)")
        return field

    def field_path(self) -> str:
        return f"spec.generators[].list.elements[{self.clusterKey}={{cluster}}].{self.field}"

    def steps(self, doc: dict, cluster: str) -> list:
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        found, external, yaml_lists = [], [], []
        for path, generator, templates in _generators(spec.get("generators"), ["spec", "generators"], []):
            if not isinstance(generator, dict):
                continue
            external += [(format_steps(path + [kind]), kind) for kind in _EXTERNAL if kind in generator]
            listgen = generator.get("list")
            if not isinstance(listgen, dict):
                continue
            if "elementsYaml" in listgen:
                yaml_lists.append(format_steps(path + ["list", "elementsYaml"]))
            around = templates + [listgen.get("template")]
            for e, element in enumerate(listgen.get("elements") or []):
                if isinstance(element, dict) and element.get(self.clusterKey) == cluster:
                    found.append((path + ["list", "elements", e], around))
        if not found:
            raise PinTargetError(self._not_found(cluster, external, yaml_lists), ["spec", "generators"])
        if len(found) > 1:
            where = ", ".join(format_steps(p) for p, _ in found)
            raise PinTargetError(f"{len(found)} list generator elements with {self.clusterKey}: {cluster} ({where})",
                                 found[1][0])
        element_path, templates = found[0]
        self._check_read(spec, templates)
        return element_path + self.field.split(".")

    def destination(self, doc: dict, cluster: str) -> dict[str, tuple[str, list]]:
        """Where the template sends this cluster's Application: {"server" | "name": (value,
        path of the template field)}, for each the template fills in from this element's
        own keys (or writes literally); a field that reads anything else (another
        generator's parameters, a function) is left out: it cannot be told here."""
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        go = str(spec.get("goTemplate")).lower() == "true"
        element_path = self.steps(doc, cluster)[:-len(self.field.split("."))]
        element = doc
        for step in element_path:
            element = element[step]
        generator_path = element_path[:-3]  # .../list.elements[e] -> the generator
        overrides = []
        node, path = doc, []
        for step in generator_path:  # the `template` of each combiner on the way, then the list's own
            node, path = node[step], path + [step]
            if isinstance(node, dict):
                for key in ("matrix", "merge"):
                    if isinstance(node.get(key), dict) and isinstance(node[key].get("template"), dict):
                        overrides.append((node[key]["template"], path + [key, "template"]))
        listgen = node.get("list") if isinstance(node, dict) else None
        if isinstance(listgen, dict) and isinstance(listgen.get("template"), dict):
            overrides.append((listgen["template"], generator_path + ["list", "template"]))
        out: dict[str, tuple[str, list]] = {}
        for template, at in [(spec.get("template"), ["spec", "template"]), *overrides]:  # later ones override
            dest = ((template or {}).get("spec") or {}).get("destination") if isinstance(template, dict) else None
            if not isinstance(dest, dict):
                continue
            for key in ("server", "name"):
                if isinstance(dest.get(key), str):
                    value = _render(dest[key], element, go)
                    if value is None:
                        out.pop(key, None)
                    else:
                        out[key] = (value, at + ["spec", "destination", key])
        return out

    def creates(self) -> str | None:
        # An element without the key breaks the template for it (`missingkey=error`), or
        # renders `<no value>`: adding it to one element while the others lack it would
        # break the clusters of later waves, and a revert would break this one again.
        return None

    def absent_hint(self) -> str:
        return (f"every element the template is rendered for must hold {self.field} before a rollout writes it: "
                "add it, with the revision each cluster runs now, to every element first")

    def _not_found(self, cluster: str, external: list, yaml_lists: list) -> str:
        message = f"no list generator element with {self.clusterKey}: {cluster}"
        if yaml_lists:
            message += f"; {', '.join(yaml_lists)} is a string of YAML, which cannot be pinned in place"
        if external:
            sources = "; ".join(f"{where} takes them from {_EXTERNAL[kind]}" for where, kind in external)
            message += (f". Its other generators' parameters are not in this file ({sources}): pin the revision in "
                        "the template (yaml-field on spec.template.spec.source.targetRevision, which moves every "
                        "cluster at once) or per cluster in each Argo CD cluster Secret's labels, which a clusters "
                        "generator's template reads as {{metadata.labels.<key>}}")
        return message

    def _check_read(self, spec: dict, templates: list) -> None:
        """The pinned key must be read by the template, or the pin changes nothing."""
        go = str(spec.get("goTemplate")).lower() == "true"
        reads = _go_reference(self.field) if go else _fast_reference(self.field)
        sources = [spec.get("template"), *templates, spec.get("templatePatch")]
        if any(reads.search(text) for source in sources for text in _strings(source)):
            return
        wanted = f"{{{{ .{self.field} }}}}" if go else f"{{{{{self.field}}}}}"
        leaf = self.field.split(".")[-1]
        holders = [(p, v) for p, v in _scalars(spec.get("template"), ["spec", "template"]) if p[-1] == leaf]
        holders = holders or [(p, v) for p, v in _scalars(spec.get("template"), ["spec", "template"])
                              if p[-1] == "targetRevision"]
        at = ["spec", "template"]
        if holders:
            at, value = holders[0]
            hint = f"{format_steps(at)} is {value!r}: write {wanted!r} there"
        else:
            hint = f"write {wanted!r} where the template needs it (e.g. spec.template.spec.source.targetRevision)"
        raise PinTargetError(
            f"the template never reads the element's {self.field} ({'goTemplate' if go else 'fasttemplate'} "
            f"{wanted}), so pinning it would change no Application: {hint}", at)


def _generators(generators, path: list, templates: list) -> Iterator[tuple[list, object, list]]:
    """Every generator, nested ones in matrix / merge included, with the `template`
    overrides of the generators around it."""
    for g, generator in enumerate(generators if isinstance(generators, list) else []):
        yield path + [g], generator, templates
        if not isinstance(generator, dict):
            continue
        for combiner in _COMBINERS:
            inner = generator.get(combiner)
            if isinstance(inner, dict):
                yield from _generators(inner.get("generators"), path + [g, combiner, "generators"],
                                       templates + [inner.get("template")])


_TAG = re.compile(r"\{\{(-?)\s*([^{}]*?)\s*(-?)\}\}")


def _render(text: str, element: dict, go: bool) -> str | None:
    """A template field filled in from the element's keys (`{{url}}`, `{{ .url }}`,
    `{{.values.url}}`); None when it reads anything else."""
    def value(match: re.Match) -> str:
        name = match.group(2)
        if go:
            if not name.startswith(".") or not re.fullmatch(r"\.[\w-]+(\.[\w-]+)*", name):
                raise LookupError(name)
            name = name[1:]
        node = element
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                raise LookupError(name)
            node = node[part]
        if isinstance(node, (dict, list)) or node is None:
            raise LookupError(name)
        return str(node)
    try:
        return _TAG.sub(value, text)
    except LookupError:
        return None


def _fast_reference(field: str) -> re.Pattern:
    return re.compile(r"\{\{\s*" + re.escape(field) + r"\s*\}\}")


def _go_reference(field: str) -> re.Pattern:
    """`.field` inside a `{{ ... }}` action (not `.x.field`), or `index . "field"`."""
    dotted = r"(?<![\w.\])])\." + re.escape(field) + r"(?![\w-])"
    indexed = r"index\s+\.\s+\"" + re.escape(field.split(".")[0]) + r"\""
    return re.compile(r"\{\{-?[^}]*(?:" + dotted + "|" + indexed + r")[^}]*-?\}\}")


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _scalars(node, path: list) -> Iterator[tuple[list, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _scalars(value, path + [key])
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _scalars(item, path + [i])
    elif path:
        yield path, node
