"""The repository's files as the targeting checks read them: each parsed at most once
per run (yaml-rs for the data, PyYAML's positions only when a problem needs a line)."""

from __future__ import annotations

import os
from pathlib import Path

from rollout.yamlfile import Located, YamlError, load_documents, read_text


class RepoFiles:
    def __init__(self, repo: Path):
        self.repo = repo
        self._root = str(repo)
        self._real_root = os.path.realpath(repo)
        self._inside: dict[str, bool] = {}
        self._texts: dict[str, str | YamlError] = {}
        self._docs: dict[str, list | YamlError] = {}
        self._located: dict[str, Located | None] = {}
        self._listings: dict[str, list[str] | None] = {}

    # --- where things are ---------------------------------------------------------

    def inside(self, rel: str) -> bool:
        """`rel` (normalised, relative) stays inside the repository, symlinks resolved."""
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            return False
        if rel not in self._inside:
            real = os.path.realpath(os.path.join(self._root, rel))
            self._inside[rel] = real == self._real_root or real.startswith(self._real_root + os.sep)
        return self._inside[rel]

    def is_file(self, rel: str) -> bool:
        return os.path.isfile(os.path.join(self._root, rel))

    def is_dir(self, rel: str) -> bool:
        return os.path.isdir(os.path.join(self._root, rel))

    def listing(self, rel: str) -> list[str]:
        """Names in a folder, sorted (empty when it is not one)."""
        if rel not in self._listings:
            try:
                self._listings[rel] = sorted(os.listdir(os.path.join(self._root, rel)))
            except OSError:
                self._listings[rel] = None
        return self._listings[rel] or []

    # --- what is in them ----------------------------------------------------------

    def text(self, rel: str) -> str | YamlError:
        if rel not in self._texts:
            try:
                self._texts[rel] = read_text(self.repo / rel)
            except YamlError as err:
                self._texts[rel] = err
        return self._texts[rel]

    def documents(self, rel: str) -> list | YamlError:
        """The file's YAML documents, or the error that stopped reading them."""
        if rel not in self._docs:
            text = self.text(rel)
            if isinstance(text, YamlError):
                self._docs[rel] = text
            else:
                try:
                    self._docs[rel] = load_documents(self.repo / rel, text)
                except YamlError as err:
                    self._docs[rel] = err
        return self._docs[rel]

    def line(self, rel: str, loc: tuple, doc: int = 0) -> int | None:
        if rel not in self._located:
            text = self.text(rel)
            try:
                self._located[rel] = None if isinstance(text, YamlError) else Located.parse(rel, text)
            except YamlError:
                self._located[rel] = None
        located = self._located[rel]
        return located.line(loc, doc) if located is not None else None
