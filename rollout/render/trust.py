"""spec.trust in words: what holds a rollout and which records did not count (docs/security.md)."""

from __future__ import annotations


def trust_lines(state, blocked: bool = True) -> list[str]:
    """spec.trust: what holds the rollout, each record that did not count and each stop
    honoured unsigned, one line each (which commit, why); without trust, that records are
    not verified."""
    if not state.verified:
        return ["records are not verified: the policy has no spec.trust (docs/security.md)"]
    lines = [f"halted by spec.trust: {b.line()}" for b in state.blocked] if blocked else []
    lines += [f"ignored: {i.line()}" for i in state.ignored]
    lines += [f"unsigned: {i.line()}" for i in state.unsigned]
    return lines
