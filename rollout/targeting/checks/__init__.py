"""The targeting checks, one module each: `check(ctx) -> [Problem]`, run in this order.
When two checks find the same line, the first one's message is shown."""

from __future__ import annotations

from rollout.targeting.checks import foreign_folder, foreign_pin, graph_problems, reachable_identity, source_path

CHECKS = {
    "graph": graph_problems.check,
    "sourcePath": source_path.check,
    "reachableIdentity": reachable_identity.check,
    "foreignFolder": foreign_folder.check,
    "foreignPin": foreign_pin.check,
}
