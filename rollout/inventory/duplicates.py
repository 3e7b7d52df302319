"""One real cluster, one inventory entry: two cluster names with the same API server
(compared normalised: scheme, host case, default port, trailing slash), or two Argo CD
cluster Secrets with the same cluster name, would give one cluster two clusters' pins.
Each is an error at the later entry, naming both."""

from __future__ import annotations

from waves.problems import Problem
from rollout.inventory.entries import Entry
from rollout.targeting.urls import all_keyed, server_key

ARGOCD_SECRETS = "argocdClusterSecrets"


def duplicates(sources: list[tuple[str, list[Entry]]], line_of) -> list[Problem]:
    """`sources` are (source kind, its entries) in inventory order; `line_of(entry, loc)`
    is the line of `loc` in the entry's document, when known."""

    def where(entry: Entry, loc: tuple) -> str:
        if entry.live:
            return entry.what
        line = line_of(entry, loc)
        return f"{entry.file}:{line}" if line else entry.file

    kinds: dict[int, str] = {}

    def kind_of(entry: Entry) -> str:  # made on the first problem: most inventories have none
        if not kinds:
            kinds.update((id(e), kind) for kind, group in sources for e in group)
        return kinds[id(entry)]

    servers = [entry.server for _, group in sources for entry in group if entry.server]
    # each its own key, and no two equal: no two entries name one server (the usual fleet:
    # 100,000 servers in ~25 ms instead of ~150 ms keyed one by one); else keyed one by one
    check_servers = not (all_keyed(servers) and len(set(servers)) == len(servers))
    walked = sources if check_servers else [(kind, group) for kind, group in sources if kind == ARGOCD_SECRETS]
    problems = []
    seen: dict[str, Entry] = {}
    secrets: dict[str, Entry] = {}
    for kind, group in walked:
        for entry in group:
            if check_servers and entry.server:
                first = seen.setdefault(server_key(entry.server), entry)
                if first.name != entry.name:
                    problems.append(_at(
                        entry, _server_loc(kind, entry),
                        f"cluster {entry.name}: API server {entry.server} is also cluster {first.name}'s "
                        f"({where(first, _server_loc(kind_of(first), first))}): one real cluster would get two "
                        "clusters' pins"))
            if kind == ARGOCD_SECRETS:
                first = secrets.setdefault(entry.name, entry)
                if first is not entry and first.file != entry.file:  # same file: "listed twice" already
                    problems.append(_at(
                        entry, ("stringData", "name"),
                        f"Argo CD cluster name {entry.name} is also given by the Secret in "
                        f"{where(first, ('stringData', 'name'))}: Argo CD cannot tell the two apart"))
    return problems


def _server_loc(kind: str, entry: Entry) -> tuple:
    if entry.live:
        return {"clusterProfiles": ("status", "accessProviders"), "managedClusters": ("spec", "managedClusterClientConfigs"),
                "clusterAPI": ("spec", "controlPlaneEndpoint")}.get(kind, ("data", "server"))
    return ("stringData", "server") if kind == ARGOCD_SECRETS else entry.loc + ("server",)


def _at(entry: Entry, loc: tuple, message: str) -> Problem:
    if entry.live:
        return Problem(message, loc, entry.what, extra={"live": True})
    return Problem(message, loc, entry.file, extra={"doc": entry.doc})
