"""What an advance commit records of a live inventory (docs/inventory.md, "Audit"): which
sources its clusters came from, what each live source listed (a digest: a hub's
resourceVersion cannot be read back later), and, for the clusters it pins that a hub
named, their labels and server. With those, a later step judges and reverts the wave
while the hub cannot be read (rollout/recorded.py), and a reader knows what the hub said.

    Inventory when advanced (docs/inventory.md):
    - hub:clusterProfiles@hub/fleet-system: 6 listed, sha256:0123456789abcdef
    Clusters pinned, their sources; from a hub, the labels and server it gave:
      @ dev-eu-west {"labels":{...},"server":"https://...","sources":["hub:clusterProfiles@hub/fleet-system"]}

A policy without live sources records nothing of this (its inventory is files in the
commit's own tree).
"""

from __future__ import annotations

import hashlib
import json
import re

from waves.inventory import Cluster

_LINE = re.compile(r"^  @ (\S+) (\{.*\})$")
HUB = "hub:"  # the prefix of a live source's origin in Cluster.sources


def lines(listed: list, clusters: list[Cluster]) -> tuple[list[str], str] | None:
    """(body lines, digest) for an advance pinning `clusters`, or None without live sources."""
    if not listed:
        return None
    out = ["Inventory when advanced (docs/inventory.md):"]
    out += [f"- {got.origin}: {got.count} listed, {got.digest}" for got in listed]
    out.append("Clusters pinned, their sources; from a hub, the labels and server it gave:")
    for cluster in clusters:
        entry: dict = {"sources": list(cluster.sources)}
        if any(s.startswith(HUB) for s in cluster.sources):
            entry = {"labels": dict(sorted(cluster.labels.items())), "server": cluster.server, **entry}
        out.append(f"  @ {cluster.name} {json.dumps(entry, separators=(',', ':'), sort_keys=True)}")
    return out, digest(listed)


def digest(listed: list) -> str:
    """One digest of every live source's listing (each one's is in the body)."""
    text = "\n".join(f"{got.origin} {got.digest}" for got in listed)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def clusters_in(message: str) -> dict[str, Cluster]:
    """The clusters an advance message records with labels (those a hub named)."""
    out = {}
    for line in message.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        try:
            entry = json.loads(match.group(2))
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("labels"), dict):
            labels = {str(k): str(v) for k, v in entry["labels"].items()}
            server = entry.get("server") if isinstance(entry.get("server"), str) else None
            sources = tuple(str(s) for s in entry.get("sources") or () if isinstance(s, str))
            out[match.group(1)] = Cluster(match.group(1), labels, server, sources)
    return out
