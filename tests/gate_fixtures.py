"""Verdict fixtures by outcome: one object per file, a header naming the upstream repo
and path its shape follows, the pin, the pinned sources, the time and the verdict."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from waves.gates.verdict import parse_time

FIXTURES = Path(__file__).parent / "fixtures" / "gates"


def load(path: Path) -> tuple[dict, dict]:
    """(header fields, the object)."""
    text = path.read_text()
    header: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.match(r"# (\w+): (.*)", line)
        if not match:
            break
        header.setdefault(match.group(1), []).append(match.group(2).strip())
    fields = {key: values[0] for key, values in header.items()}
    fields["upstream"] = header.get("upstream", [])
    sources = fields.get("sources", "-").split()[0]
    fields["sources"] = None if sources == "-" else [int(i) for i in sources.split(",")]
    fields["now"] = parse_time(fields.get("now"))
    return fields, yaml.safe_load(text)


def fixtures(gate: str) -> list[Path]:
    return sorted((FIXTURES / gate).glob("*.yaml"))
