"""Counting in messages: `1 cluster`, `2 clusters`."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def waves_counted(plan) -> str:
    """`5 waves`, or `6 waves (1 empty)` when a wave claims no cluster."""
    empty = sum(1 for w in plan.waves if not w.clusters)
    return count(len(plan.waves), "wave") + (f" ({empty} empty)" if empty else "")
