"""Moving the checked-out branch and its work tree forward, so that a kill at any
instant leaves a checkout the next run finishes (docs/git-engine.md, "A kill during the
move").

`git merge --ff-only` rewrites files in place (unlink, then write) under `index.lock`:
a kill in the middle leaves the lock, a partly updated tree and the branch on the old
commit, and nothing tells a later run what happened. Here the move is journaled:

1. `<git-dir>/rollout-move` records branch, old and new commit (written aside, renamed);
2. the new index is built aside (the current one with the changed entries replaced);
3. each changed file is written beside itself and renamed over itself: at every instant
   it holds either its old or its new content, never a part;
4. the index is renamed in while we hold git's `index.lock`;
5. the branch ref moves (`update-ref` with the old value: one atomic ref update);
6. the journal is removed.

Every step is idempotent and the journal says where we were going, so any later run
(holding the checkout lock, so the writer is gone) redoes the steps and the move
completes. A checkout left half-moved by a plain `git merge` (an older rollout, a
killed `git pull`) is recovered when what it holds is explained by that move, and its
stale `index.lock` is removed only when no live process has it open.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from rollout.git.errors import GitError
from rollout.git.history import parse_event

JOURNAL = "rollout-move"
CHECKOUT_LOCK = "rollout.lock"
ZERO = "0" * 40

_held: dict[str, int] = {}  # git dir -> fd of the flock this process holds


class Blocked(GitError):
    """The move cannot go on without losing someone's work, or must wait (exit 1)."""


@dataclass(frozen=True)
class Change:
    path: str
    old_mode: str
    new_mode: str
    old: str | None  # blob id, None when absent
    new: str | None


# --- the checkout lock ----------------------------------------------------------------


def hold(git, wait: float = 30.0) -> bool:
    """Hold `<git-dir>/rollout.lock` (flock) for the rest of this process: one rollout
    writes in a checkout at a time. The kernel drops it when the process dies, however
    it dies, so it never goes stale. `wait=0`: try once; False when another holds it."""
    gitdir = git.git_dir()
    if str(gitdir) in _held:
        return True
    fd = os.open(gitdir / CHECKOUT_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                os.close(fd)
                if wait == 0:
                    return False
                raise Blocked(f"another rollout command is working in this checkout ({gitdir / CHECKOUT_LOCK}): "
                              "run again when it is done")
            time.sleep(0.05)
    _held[str(gitdir)] = fd
    return True


# --- moving ---------------------------------------------------------------------------


def move(git, branch: str, old: str, new: str) -> None:
    """Move `branch` (checked out, at `old`, clean) and the work tree to `new`."""
    hold(git)
    gitdir = git.git_dir()
    _write_atomically(gitdir / JOURNAL, json.dumps({"branch": branch, "old": old, "new": new, "pid": os.getpid()}).encode())
    _finish(git, gitdir, branch, old, new, lock_may_be_ours=False)


def pending(git) -> dict | None:
    """The journal of an unfinished move, if any."""
    try:
        return json.loads((git.git_dir() / JOURNAL).read_text())
    except (OSError, ValueError):
        return None


def resume(git) -> list[str]:
    """Finish what a killed run left: stale ref locks of its git commands, then its
    journaled move; returns what was done, for the user. Call with the checkout lock
    held (`hold`)."""
    gitdir = git.git_dir()
    _tidy_scratch(gitdir)
    notes = drop_stale_ref_locks(git)
    journal = pending(git)
    if journal is None:
        return notes
    branch, old, new = journal["branch"], journal["old"], journal["new"]
    _finish(git, gitdir, branch, old, new, lock_may_be_ours=True)
    return notes + [f"finished moving {branch} to {new[:12]}, which a killed run had published ({_subject(git, new)})"]


def drop_stale_ref_locks(git) -> list[str]:
    """A git command killed while updating a ref (`update-ref`, `fetch`, an auto `gc`
    packing refs) leaves `<ref>.lock` behind, and every later update of that ref fails
    ("remove the file manually to continue"). Remove such locks when they are stale: no
    live process has the file open and no git process is running in this repository. A
    lock that may be live is left alone (and git's own error stays)."""
    common = git.common_dir()
    locks = [p for p in (common / "refs").rglob("*.lock") if p.is_file()] if (common / "refs").is_dir() else []
    locks += [p for p in (common / "packed-refs.lock", git.git_dir() / "HEAD.lock") if p.is_file()]
    if not locks:
        return []
    if git_running_in(git.root, common) is not False:
        return []  # a git command is (or may be) running here: its locks are live
    removed = []
    for lock in locks:
        if open_by(lock) == set():
            lock.unlink(missing_ok=True)
            removed.append(str(lock.relative_to(common.parent) if common.parent in lock.parents else lock))
    return [f"removed {', '.join(removed)}, left by a killed git command"] if removed else []


def git_running_in(root: Path, gitdir: Path) -> bool | None:
    """Is a git process running in this work tree or git dir (Linux: /proc/*/cwd and
    /proc/*/comm)? None where the system cannot tell."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return None
    places = (os.path.realpath(root), os.path.realpath(gitdir))
    for entry in os.scandir(proc):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not Path(f"/proc/{entry.name}/comm").read_text().startswith("git"):
                continue
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            continue
        if any(cwd == place or cwd.startswith(place + os.sep) for place in places):
            return True
    return False


def recover_plain(git, branch: str, remote_tip: str) -> str | None:
    """A checkout a killed `git merge --ff-only` left (no journal): HEAD behind the
    remote, maybe a stale `index.lock`, changed paths. When some rollout commit between
    HEAD and the remote explains every change (each changed file and index entry holds
    its blob at HEAD or at that commit), finish that move. None when not explainable."""
    head = git.head()
    if head == remote_tip or not git.is_ancestor(head, remote_tip):
        return None
    gitdir = git.git_dir()
    lock = gitdir / "index.lock"
    dirty = _dirty_paths(git)
    if not dirty and not lock.exists():
        return None
    candidates = git.run("rev-list", "--first-parent", "--format=%H%x1f%ct%x1f%B%x1e", "--no-commit-header",
                         f"{head}..{remote_tip}")
    for record in candidates.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, ctime, message = record.split("\x1f", 2)
        if parse_event(sha, int(ctime), message) is None:
            continue
        changes = {c.path: c for c in _changes(git, head, sha)}
        if not set(dirty) <= set(changes) or not _explained(git, [changes[p] for p in dirty], index_too=True):
            continue
        if lock.exists():
            holders = open_by(lock)
            if holders is None:
                raise Blocked(f"{lock} is left from an interrupted git command and this system cannot tell whether "
                              "a process still holds it: remove it if no git command is running, then run again")
            if holders:
                raise Blocked(f"{lock} is held by process {', '.join(map(str, sorted(holders)))}: "
                              "wait for it to finish, then run again")
            if git_running_in(git.root, gitdir):
                raise Blocked(f"{lock} exists and a git command is running in this checkout: "
                              "wait for it to finish, then run again")
            lock.unlink()  # no live process holds it, no git runs here: a dead git's
        _write_atomically(gitdir / JOURNAL, json.dumps({"branch": branch, "old": head, "new": sha, "pid": os.getpid()}).encode())
        _finish(git, gitdir, branch, head, sha, lock_may_be_ours=False)
        return (f"finished moving {branch} to {sha[:12]}, which an interrupted run had published "
                f"({_subject(git, sha)}); its stale index.lock was removed")
    return None


def _finish(git, gitdir: Path, branch: str, old: str, new: str, lock_may_be_ours: bool) -> None:
    ref = f"refs/heads/{branch}"
    current = git.rev(ref)
    if current not in (old, new):
        raise Blocked(f"{branch} moved to {current and current[:12]} while a move {old[:12]} -> {new[:12]} was "
                      "interrupted: check the checkout by hand")
    changes = _changes(git, old, new)
    root = git.root
    # A fresh move starts from a tree checked clean under the checkout lock; finishing a
    # killed run's move must first see that every path is still the old or new blob.
    if lock_may_be_ours:
        _drop_temporaries(root, changes)
    if lock_may_be_ours and not _explained(git, changes, index_too=False):
        bad = [c.path for c in changes if not _explained(git, [c], index_too=False)]
        raise Blocked(f"cannot finish moving {branch} to {new[:12]}: {', '.join(bad[:5])} changed meanwhile; "
                      f"check them, then `git reset --keep {new[:12]}` or `git checkout -- <file>`")
    scratch = gitdir / f"rollout-index-{os.getpid()}"
    index = gitdir / "index"
    if index.exists():
        scratch.write_bytes(index.read_bytes())
        env = {"GIT_INDEX_FILE": str(scratch)}
        info = "".join(f"{c.new_mode} {c.new}\t{c.path}\n" if c.new else f"0 {ZERO}\t{c.path}\n" for c in changes)
        git.run("update-index", "--index-info", input=info.encode(), env=env)
    else:
        env = {"GIT_INDEX_FILE": str(scratch)}
        git.run("read-tree", new, env=env)
    _write_files(git, changes)
    git.run("update-index", "-q", "--refresh", check=False, env=env)
    _take_index_lock(gitdir, lock_may_be_ours, git.root)
    try:
        os.replace(scratch, index)
    finally:
        (gitdir / "index.lock").unlink(missing_ok=True)
    if git.rev(ref) != new:
        git.run("update-ref", "-m", f"rollout: fast-forward to {new[:12]}", ref, new, old)
    (gitdir / JOURNAL).unlink(missing_ok=True)


def _take_index_lock(gitdir: Path, may_be_ours: bool, root: Path) -> None:
    lock = gitdir / "index.lock"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return
    except FileExistsError:
        pass
    holders = open_by(lock)
    if may_be_ours and not holders and not git_running_in(root, gitdir):
        return  # a killed run of ours took it (a git process keeps its index.lock open)
    who = f" by process {', '.join(map(str, sorted(holders)))}" if holders else ""
    raise Blocked(f"{lock} is held{who}: another git command is running in this checkout; run again when it is done")


def _write_files(git, changes: list[Change]) -> None:
    """Each changed path gets its new content through a rename, so a reader (or a kill)
    sees the old file or the new one. Content goes through the checkout filters
    (`.gitattributes` eol, smudge) exactly as `git checkout` would write it."""
    root = str(git.root)
    wanted = [c for c in changes if c.new and c.new_mode in ("100644", "100755")]
    contents = git.filtered_blobs([(c.new, c.path) for c in wanted])
    suffix = f".rollout-{os.getpid()}~"
    for change in changes:  # deletions first: a folder may become a file
        if change.new is None:
            target = os.path.join(root, change.path)
            if os.path.islink(target) or os.path.isfile(target):
                os.unlink(target)
            _prune_empty_dirs(Path(target).parent, Path(root))
    made: set[str] = set()
    for change in changes:
        if change.new is None:
            continue
        target = os.path.join(root, change.path)
        folder, name = os.path.split(target)
        temp = os.path.join(folder, f".{name}{suffix}")
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        if change.new_mode == "120000":
            os.symlink(git.read_blob(change.new), temp)
        elif change.new_mode == "160000":
            os.makedirs(target, exist_ok=True)  # a submodule: git leaves its content alone too
            continue
        else:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o777 if change.new_mode == "100755" else 0o666)
            try:
                _write_all(fd, contents[change.path])  # no fsync: a kill keeps the page cache
            finally:
                os.close(fd)
        if os.path.isdir(target) and not os.path.islink(target):
            os.unlink(temp)
            raise Blocked(f"cannot write {change.path}: a folder with files git does not track is in the way")
        os.replace(temp, target)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _prune_empty_dirs(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _drop_temporaries(root: Path, changes: list[Change]) -> None:
    """Temporary files (`.NAME.rollout-PID~`) a killed move left beside changed paths:
    one listing per folder."""
    names_by_folder: dict[Path, set[str]] = {}
    for change in changes:
        target = root / change.path
        names_by_folder.setdefault(target.parent, set()).add(target.name)
    for folder, names in names_by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith(".") and name.endswith("~") and ".rollout-" in name and \
                    name[1:].rsplit(".rollout-", 1)[0] in names:
                os.unlink(entry.path)


def _tidy_scratch(gitdir: Path) -> None:
    for leftover in gitdir.glob("rollout-index-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid():
            leftover.unlink(missing_ok=True)


# --- what the checkout holds ----------------------------------------------------------


def _changes(git, old: str, new: str) -> list[Change]:
    out = git.run("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new)
    fields = out.split("\0")
    changes = []
    for i in range(0, len(fields) - 1, 2):
        meta, path = fields[i], fields[i + 1]
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, old_sha, new_sha, _status = meta[1:].split(" ")
        changes.append(Change(path, old_mode, new_mode, None if old_sha == ZERO else old_sha,
                              None if new_sha == ZERO else new_sha))
    return changes


def _explained(git, changes: list[Change], index_too: bool) -> bool:
    """Does every path hold its old or its new blob (or is absent where one side is)?"""
    changes = [c for c in changes if "160000" not in (c.old_mode, c.new_mode)]  # submodules: not ours to check
    if not changes:
        return True
    root = git.root
    present = [c for c in changes if (root / c.path).is_symlink() or (root / c.path).is_file()]
    hashes = git.hash_paths([c.path for c in present if not (root / c.path).is_symlink()])
    for change in present:
        target = root / change.path
        if target.is_symlink():
            hashes[change.path] = _blob_id(os.readlink(target).encode())
    staged = git.staged([c.path for c in changes]) if index_too else {}
    for change in changes:
        allowed = {change.old, change.new}
        if hashes.get(change.path) not in allowed:
            return False
        if index_too and staged.get(change.path) not in allowed:
            return False
    return True


def _dirty_paths(git) -> list[str]:
    """Paths whose index entry or file differs from HEAD, and untracked files."""
    out = git.run("status", "--porcelain", "-z", "--untracked-files=all", "--no-renames")
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _subject(git, commit: str) -> str:
    return git.run("log", "-1", "--format=%s", commit).strip()


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def open_by(path: Path) -> set[int] | None:
    """Live processes that have `path` open (Linux: /proc/*/fd); None where the system
    cannot tell. A git command keeps its lock file open until it renames it."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    target = os.path.realpath(path)
    found = set()
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            with os.scandir(f"/proc/{entry.name}/fd") as fds:
                for fd in fds:
                    try:
                        if os.readlink(fd.path) == target:
                            found.add(int(entry.name))
                            break
                    except OSError:
                        continue
        except OSError:
            continue
    return found
