"""`argocdClusterSecrets`: Argo CD cluster Secrets, a glob of manifests in the repo, or
`{context, namespace, selector}`: the Secrets in Argo CD's namespace on its cluster (the
LIST asks for `argocd.argoproj.io/secret-type=cluster` besides the selector).

A Secret is a cluster when labelled `argocd.argoproj.io/secret-type: cluster`; its name
and server come from `stringData` or base64 `data`; its labels from metadata.labels.
The `config` field holds credentials: it is never decoded, kept or printed. Argo CD
keeps no availability for a cluster: a live one is always available.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from rollout.inventory.entries import Entry, SourceResult, describe, kind_of, mapping
from rollout.inventory.files import documents_in

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"


def read(repo: Path, pattern: str) -> SourceResult:
    result = SourceResult()
    for file, doc_index, doc in documents_in(repo, pattern, result, secret=True):
        try:
            found = _read_secret(file, doc_index, doc, result)
        except Exception as err:  # noqa: BLE001 - a bug here must not quote the Secret's values
            result.problem(file, doc_index, (), f"cannot read this Secret ({type(err).__name__}; values not shown)")
            continue
        if found is not None:
            name, server, labels = found
            result.entries.append(Entry(name, file, doc_index, (), labels, ("metadata", "labels"), server))
    return result


def read_live(listed) -> SourceResult:
    """The Secrets the hub listed; a problem names the Secret, never a value of it."""
    result = SourceResult()
    for obj in listed.items:
        where = describe(listed, obj)
        try:
            found = _read_secret(where, 0, obj, result)
        except Exception as err:  # noqa: BLE001 - a bug here must not quote the Secret's values
            result.problem(where, 0, (), f"cannot read this Secret ({type(err).__name__}; values not shown)")
            continue
        if found is not None:
            name, server, labels = found
            result.entries.append(Entry(name, listed.origin, 0, (), labels, ("metadata", "labels"), server,
                                        live=True, ref=(listed, obj)))
    for problem in result.problems:
        problem.extra["live"] = True
    return result


def _read_secret(file: str, doc_index: int, doc: dict, result: SourceResult) -> tuple[str, str | None, dict] | None:
    """(name, server, labels) of a cluster Secret; None for other Secrets and documents."""
    if doc.get("kind") != "Secret":
        return None
    labels = mapping(doc.get("metadata")).get("labels") or {}
    if not isinstance(labels, dict):
        result.problem(file, doc_index, ("metadata", "labels"), f"expected a mapping, got {kind_of(labels)}")
        return None
    labels = dict(labels)
    if labels.get(SECRET_TYPE_LABEL) != "cluster":
        return None  # repository and other Argo CD secrets
    labels.pop(SECRET_TYPE_LABEL)
    fields = {}
    for key in ("name", "server"):
        value, where = _field(doc, key, file, doc_index, result)
        fields[key] = value
        if where is None and key == "name":
            result.problem(file, doc_index, ("stringData",), "cluster Secret has no name in stringData or data")
    if fields["name"] is None:
        return None
    return fields["name"], fields["server"], labels


def _field(doc: dict, key: str, file: str, doc_index: int, result: SourceResult):
    string_data = doc.get("stringData") or {}
    if isinstance(string_data, dict) and key in string_data:
        value = string_data[key]
        if isinstance(value, str):
            return value, "stringData"
        result.problem(file, doc_index, ("stringData", key), f"expected text, got {kind_of(value)}")
        return None, "stringData"
    data = doc.get("data") or {}
    if isinstance(data, dict) and key in data:
        if not isinstance(data[key], str):
            result.problem(file, doc_index, ("data", key), f"expected base64 text, got {kind_of(data[key])}")
            return None, "data"
        try:
            return base64.b64decode(data[key], validate=True).decode("utf-8"), "data"
        except (binascii.Error, UnicodeDecodeError, ValueError):
            result.problem(file, doc_index, ("data", key), "is not base64-encoded UTF-8 text")
            return None, "data"
    return None, None
