"""The gates' LISTs sent ahead: `rollout gate` asks its hub for the Applications before it
reads the repo, so that the API server renders and sends its answer (~0.4-0.6 s for
10,000 Applications from the simulator) while the plan, the history and the checks are
loaded; the evaluation then takes that answer (rollout/observers/kube.py: `Kube.list`).

Only what every wave's gates LIST whatever the plan says is sent (an observer's `places`:
an Argo CD hub named by a fixed context): whichever wave is judged, it reads it; a wave
that turns out not to be judged (pending, empty) leaves it unread. The policy is read
here as plain data, before any model (the policy's models, the plan and rollout's
modules are loaded while the request is out), and nothing here is trusted: an answer is
read only for the very LIST that the evaluation of the loaded, validated policy makes (a
policy the load refuses reads nothing), and whatever goes wrong here (no policy, a
context missing from the kubeconfig) sends nothing and is left for the load and the
preflight to say, as without it.
"""

from __future__ import annotations

from pathlib import Path


def prefetch(repo: Path, policy_ref: str, kube) -> list[tuple]:
    """Send the LISTs every wave of the policy's gates make; returns those sent."""
    from rollout.policy_file import PolicyNotFound, find_policy
    from rollout.workspace import UsageError
    from rollout.yamlfile import YamlError, load_documents

    try:
        docs = load_documents(find_policy(repo, policy_ref))
    except (PolicyNotFound, YamlError, OSError):
        return []
    spec = docs[0].get("spec") if len(docs) == 1 and isinstance(docs[0], dict) else None
    waves = spec.get("waves") if isinstance(spec, dict) else None
    if not isinstance(waves, list) or not waves:
        return []
    needed = None
    for wave in waves:
        gates = wave.get("gates") if isinstance(wave, dict) and wave.get("gates") is not None else spec.get("gates")
        places = set()
        for gate in gates if isinstance(gates, list) else ():
            places.update(_places(gate))
        needed = places if needed is None else needed & places
    sent = []
    for place in sorted(needed or (), key=repr):
        try:
            kube.prefetch(*place)
        except UsageError:  # a set-up error: the preflight says it, in order
            break
        sent.append(place)
    return sent


def _places(gate: object) -> list[tuple]:
    """The LISTs one gate of the policy (as written) makes for any wave."""
    from rollout.observers import OBSERVERS, observer

    if not isinstance(gate, dict) or len(gate) != 1:
        return []
    name, config = next(iter(gate.items()))
    if name not in OBSERVERS or not isinstance(config, dict):
        return []
    return getattr(observer(name), "places", lambda _: [])(config)
