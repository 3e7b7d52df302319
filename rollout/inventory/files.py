"""Globbing inventory files and reading their documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from waves.problems import Problem
from rollout.inventory.entries import SourceResult
from rollout.yamlfile import YamlError, load_documents


def expand(repo: Path, pattern: str) -> list[str]:
    """Repo-relative paths matching `pattern`, sorted; `**` works."""
    if not any(ch in pattern for ch in "*?["):
        return [pattern] if (repo / pattern).is_file() else []
    return sorted(str(p.relative_to(repo)) for p in repo.glob(pattern) if p.is_file())


def documents_in(repo: Path, pattern: str, result: SourceResult, secret: bool = False) -> Iterator[tuple[str, int, dict]]:
    """`secret`: the files hold credentials (cluster Secrets), so a YAML error says
    where, never what the parser saw there (its words may quote the text)."""
    files = expand(repo, pattern)
    if not files:
        result.problems.append(Problem(f"no file matches {pattern!r}", (), pattern))
    for file in files:
        try:
            docs = load_documents(repo / file)
        except YamlError as err:
            message = err.message if not secret or err.safe else "not valid YAML (details left out: this file holds credentials)"
            result.problems.append(Problem(message, (), file, line=err.line or 1))
            continue
        for index, doc in enumerate(docs):
            if isinstance(doc, dict):
                yield file, index, doc
            else:
                # Not a manifest: a stray `---`, or a top-level block scalar swallowing the
                # documents after it. Skipping it could silently drop clusters.
                what = {"str": "text", "list": "a list"}.get(type(doc).__name__, type(doc).__name__)
                result.problems.append(Problem(f"document {index + 1} is {what}, not a manifest", (), file, extra={"doc": index}))
