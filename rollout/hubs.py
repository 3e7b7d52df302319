"""Where live inventory sources are listed (rollout/inventory/hub.py): the CLI connects a
lister factory for every command from its --kubeconfig. Kept apart from the inventory
package so that connecting costs nothing: importing rollout.inventory loads every
source's reader (~25 ms), which a command that never lists a hub (a warm `gate`,
`status`) does not need.

`send_ahead` is the pipelining `rollout gate` does for its hub (rollout/observers/ahead.py),
for live inventory sources: the policy is read as plain data, and each live source whose
LIST is fixed by its text (context, namespace, no selector) is listed on a thread while the
models and the rest load. Nothing read here is trusted: the loader takes an answer only for
the very LIST the validated policy makes (rollout/inventory/hub.py: `fetch`), and whatever
went wrong in it (an unknown context, a refusal, an unreachable hub) is said there, as
without it."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

_factory = None  # () -> a lister (rollout.inventory.hub.KubeLister); set by the CLI from --kubeconfig

# the live kinds and their scope (rollout/inventory/hub.py: KINDS, checked equal by a test)
NAMESPACED = {"clusterProfiles": True, "managedClusters": False, "clusterAPI": True, "fleetClusters": True,
              "argocdClusterSecrets": True}


def connect(factory) -> None:
    """Where live sources are listed: `factory()` gives a lister (rollout/cli.py: a
    KubeLister on --kubeconfig, $KUBECONFIG or ~/.kube/config)."""
    global _factory
    _factory = factory


def client():
    if _factory is None:
        raise LookupError("no hub client: rollout.hubs.connect() was not called")
    return _factory()


def send_ahead(repo: Path, policy_ref: str, kubeconfig: str | None) -> list[tuple]:
    """List the policy's fixed live sources now, on a thread, and connect the lister that
    holds their answers (the next `client()` is it). Returns the (kind, context, namespace)
    sent; none: nothing is connected here."""
    sources = fixed_sources(repo, policy_ref)
    if not sources:
        return []
    made: Future = Future()  # the lister, its answers registered in `ahead`

    def run() -> None:
        try:
            from rollout.inventory.hub import KubeLister, Sent, list_source
            from rollout.observers.kube import Kube

            lister = KubeLister(Kube(kubeconfig))
            answers = [(Sent(*source), Future()) for source in sources]
            for sent, answer in answers:
                lister.ahead[sent.key(lister)] = answer
        except BaseException as err:  # noqa: BLE001 - raised again where the lister is asked for
            made.set_exception(err)
            return
        made.set_result(lister)
        for sent, answer in answers:
            try:
                answer.set_result(list_source(lister, sent.kind, sent))
            except BaseException as err:  # noqa: BLE001 - raised again where the loader reads it
                answer.set_exception(err)

    threading.Thread(target=run, name="inventory ahead", daemon=True).start()  # never holds up an exit
    connect(made.result)
    return sources


def fixed_sources(repo: Path, policy_ref: str) -> list[tuple]:
    """(kind, context, namespace) of each live source whose LIST the policy's text fixes:
    a context (or none: the current one) and a namespace as the kind's scope wants, and no
    selector (its text is the model's to say). Anything unexpected: not sent."""
    from rollout.policy_file import PolicyNotFound, find_policy
    from rollout.yamlfile import YamlError, load_documents

    try:
        docs = load_documents(find_policy(repo, policy_ref))
    except (PolicyNotFound, YamlError, OSError, ValueError):
        return []
    spec = docs[0].get("spec") if len(docs) == 1 and isinstance(docs[0], dict) else None
    inventory = spec.get("inventory") if isinstance(spec, dict) else None
    out = []
    for source in inventory if isinstance(inventory, list) else ():
        if not isinstance(source, dict) or len(source) != 1:
            continue
        kind, value = next(iter(source.items()))
        if kind not in NAMESPACED or not isinstance(value, dict) or value.get("selector") is not None:
            continue
        context, namespace = value.get("context"), value.get("namespace")
        if context is not None and not isinstance(context, str):
            continue
        if NAMESPACED[kind] != (isinstance(namespace, str) and bool(namespace.strip())):
            continue  # the model refuses it: the loader never asks
        if (kind, context, namespace) not in out:
            out.append((kind, context, namespace))
    return out
