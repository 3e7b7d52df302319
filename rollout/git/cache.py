"""Files in the git dir that keep work between runs (`<git-dir>/rollout-*.json`): what a
result was worked out from is part of its key, so an entry is only ever reused for the
very inputs it stands for. Read once per process; written aside and renamed in, so a
reader never sees half a file and two racing runs lose entries, never correctness; a
file that cannot be read or written is an empty cache (the work is done again)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path


class CacheFile:
    """`<git-dir>/<name>`: a dict of JSON data (`.json`), or of the plain-data classes of
    `waves` (`.pickle`: read back by an unpickler that makes nothing else)."""

    _open: dict[str, "CacheFile"] = {}

    def __init__(self, path: Path):
        self.path = path
        self.binary = path.suffix == ".pickle"
        try:
            self.data = _Unpickler.loads(path.read_bytes()) if self.binary else json.loads(path.read_text())
        except Exception:  # missing, unreadable, torn or of another version: nothing kept
            self.data = {}
        if not isinstance(self.data, dict):
            self.data = {}

    @classmethod
    def of(cls, git, name: str) -> "CacheFile":
        """The cache file `name` of the repository `git` (rollout.git.repo.Git) works in."""
        path = git.git_dir() / name
        if str(path) not in cls._open:
            cls._open[str(path)] = cls(path)
        return cls._open[str(path)]

    def get(self, key: str) -> dict:
        return self.data.setdefault(key, {})

    def save(self) -> None:
        """Written aside and renamed in: a reader never sees half a file; a lost race loses entries only."""
        aside = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        try:
            aside.write_bytes(pickle.dumps(self.data, protocol=pickle.HIGHEST_PROTOCOL) if self.binary
                              else json.dumps(self.data).encode())
            os.replace(aside, self.path)
        except Exception:  # a read-only checkout, a full disk, a value that will not pickle: not kept
            try:
                aside.unlink(missing_ok=True)
            except OSError:
                pass


class _Unpickler(pickle.Unpickler):
    """Only the data classes of `waves` (the planner's Plan, Wave, Cluster, PinTarget, the
    policy's models): no function, nothing from elsewhere, is ever called by a read."""

    def find_class(self, module: str, name: str):
        if module == "waves" or module.startswith("waves."):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not kept in a rollout cache")

    @classmethod
    def loads(cls, data: bytes):
        import io

        from rollout.yamlfile import bulk

        with bulk():  # 100,000 clusters are ~500,000 objects: no collection while they are made (x3)
            return cls(io.BytesIO(data)).load()


def packed(value) -> bytes:
    """`value` pickled apart, inside a `.pickle` cache: read only by those who unpack it."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def unpacked(data) -> dict:
    """What `packed` made (an empty dict for anything else: a cache of another version)."""
    try:
        value = _Unpickler.loads(data)
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}
