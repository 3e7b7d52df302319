"""Where live inventory sources are listed (rollout/inventory/hub.py): the CLI connects a
lister factory for every command from its --kubeconfig. Kept apart from the inventory
package so that connecting costs nothing: importing rollout.inventory loads every
source's reader (~25 ms), which a command that never lists a hub (a warm `gate`,
`status`) does not need."""

from __future__ import annotations

_factory = None  # () -> a lister (rollout.inventory.hub.KubeLister); set by the CLI from --kubeconfig


def connect(factory) -> None:
    """Where live sources are listed: `factory()` gives a lister (rollout/cli.py: a
    KubeLister on --kubeconfig, $KUBECONFIG or ~/.kube/config)."""
    global _factory
    _factory = factory


def client():
    if _factory is None:
        raise LookupError("no hub client: rollout.hubs.connect() was not called")
    return _factory()
