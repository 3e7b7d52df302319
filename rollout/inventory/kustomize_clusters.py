"""`kustomizeClusters: GLOB`: one `clusters/<name>/kustomization.yaml` per cluster; the
folder names the cluster, `commonLabels` and `labels[].pairs` give its labels."""

from __future__ import annotations

from pathlib import Path

from rollout.inventory.entries import Entry, SourceResult, kind_of
from rollout.inventory.files import documents_in


def read(repo: Path, pattern: str) -> SourceResult:
    result = SourceResult()
    for file, doc_index, doc in documents_in(repo, pattern, result):
        name = Path(file).parent.name
        labels: dict = {}
        labels_loc: tuple = ("commonLabels",)
        common = doc.get("commonLabels")
        if common is not None:
            if isinstance(common, dict):
                labels.update(common)
            else:
                result.problem(file, doc_index, ("commonLabels",), "must be a mapping")
        items = doc.get("labels") or []
        if not isinstance(items, list):
            result.problem(file, doc_index, ("labels",), f"expected a list, got {kind_of(items)}")
            items = []
        for index, item in enumerate(items):
            pairs = item.get("pairs") if isinstance(item, dict) else None
            if not isinstance(pairs, dict):
                result.problem(file, doc_index, ("labels", index), "a labels entry needs a pairs mapping")
                continue
            for key, value in pairs.items():
                if isinstance(key, str) and key in labels and labels[key] != value:
                    result.problem(
                        file, doc_index, ("labels", index, "pairs", key),
                        f"label {key} is {labels[key]!r} in commonLabels but {value!r} here",
                    )
                labels[key] = value
            if common is None:
                labels_loc = ("labels", index, "pairs")
        result.entries.append(Entry(name, file, doc_index, (), labels, labels_loc, None))
    return result
