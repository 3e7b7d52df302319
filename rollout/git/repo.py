"""A thin wrapper over the git command line: every call is one process, and the
expensive ones (reading many files, writing many blobs) are one process for all files."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rollout.git.checkout import move
from rollout.git.errors import GitError


_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def scrubbed(text: str) -> str:
    """`text` with the user:token part of any URL left out (git redacts most, not all)."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


@dataclass(frozen=True)
class Upstream:
    remote: str
    branch: str  # the branch name on the remote

    @property
    def ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.branch}"


class Git:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.clean_at: str | None = None  # a commit HEAD was at when `git status` showed nothing (rollout/session.py)

    def run(self, *args: str, input: bytes | None = None, check: bool = True, env: dict | None = None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.root,
            input=input,
            capture_output=True,
            env={**os.environ, **(env or {})},
        )
        if check and result.returncode != 0:
            raise _failed(args, result.stderr)
        return result.stdout.decode(errors="replace")

    def run_together(self, *commands: tuple[str, ...]) -> list[str]:
        """The outputs of several read-only git commands run side by side, each its own
        process (`ls-files` and `diff-files` of 10,000 pinned files take the time of the
        longer on two cores, not the sum); the first that fails raises as `run` does,
        once every process has ended."""
        procs = [subprocess.Popen(["git", *args], cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for args in commands]
        ended = [proc.communicate() for proc in procs]  # each pipe drained: none waits on a full one for long
        for args, proc, (_, err) in zip(commands, procs, ended):
            if proc.returncode != 0:
                raise _failed(args, err)
        return [out.decode(errors="replace") for out, _ in ended]

    def ok(self, *args: str) -> bool:
        return subprocess.run(["git", *args], cwd=self.root, capture_output=True).returncode == 0

    # --- where we are -----------------------------------------------------------------
    def toplevel(self) -> Path | None:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "--path-format=absolute",
                              "--git-common-dir"], cwd=self.root, capture_output=True, text=True)
        if out.returncode != 0:
            return None
        top, *dirs = out.stdout.strip().split("\n")
        if len(dirs) == 2:  # asked for in the same process: git_dir() and common_dir() need no other
            self._git_dir, self._common_dir = Path(dirs[0]), Path(dirs[1])
        return Path(top)

    def common_dir(self) -> Path:
        """The git dir a linked worktree shares with the main one (refs, objects); the git dir itself otherwise."""
        if not hasattr(self, "_common_dir"):
            self._common_dir = Path(self.run("rev-parse", "--path-format=absolute", "--git-common-dir").strip())
        return self._common_dir

    def branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        out = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
        return out or None

    def head(self) -> str:
        known = getattr(self, "_known", None)
        if known is not None and "HEAD" in known:
            return known["HEAD"]
        return self.run("rev-parse", "HEAD").strip()

    def rev(self, ref: str) -> str | None:
        known = getattr(self, "_known", None)
        if known is not None and ref in known:
            return known[ref]
        out = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
        return out or None

    def refs_now(self, refs: list[str]) -> dict[str, str | None]:
        """HEAD's commit and each of `refs` (full names: `refs/remotes/origin/x`; None where
        there is none), in one git process, for `refs_known`. HEAD is left out when it
        names no commit yet (a new repository): `head()` then asks git, and fails as it did."""
        out = self.run("show-ref", "--head", *refs, check=False)  # exit 1 when only HEAD is missing
        found = {name: sha for sha, _, name in (line.partition(" ") for line in out.splitlines())}
        return {**({"HEAD": found["HEAD"]} if "HEAD" in found else {}), **{ref: found.get(ref) for ref in refs}}

    @contextlib.contextmanager
    def refs_known(self, known: dict[str, str | None]):
        """While a caller reads (writes nothing), `head()` and `rev()` of these refs answer
        from `known`, read together a moment before (None: no such ref), not one git process
        per look (a waiting `run` step looked up HEAD and the records branch four times in
        its snapshot)."""
        self._known = known
        try:
            yield
        finally:
            self._known = None

    def dirty(self) -> list[str]:
        """Changed or untracked paths (ignored files do not count)."""
        out = self.run("status", "--porcelain", "--untracked-files=normal")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def upstream(self, branch: str) -> Upstream | None:
        """The branch's remote and remote branch (`branch.<name>.remote` and `.merge`), in
        one git process: every branch's entries, this one's picked by exact name (git
        keeps a branch name's case and dots in the key; the last of a repeated key wins, as
        `git config --get` does)."""
        found: dict[str, str] = {}
        for entry in self.run("config", "-z", "--get-regexp", r"^branch\.", check=False).split("\0"):
            key, _, value = entry.partition("\n")
            found[key] = value
        remote = found.get(f"branch.{branch}.remote", "").strip()
        merge = found.get(f"branch.{branch}.merge", "").strip()
        if not remote or remote == "." or not merge.startswith("refs/heads/"):
            return None
        return Upstream(remote, merge[len("refs/heads/"):])

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", older, newer)

    # --- reading ----------------------------------------------------------------------
    def log(self, ref: str | list[str], grep: str) -> list[tuple[str, int, str]]:
        """(commit, committer time, message) of commits reachable from `ref` (or any of
        several refs) whose message matches `grep` (an extended regex), oldest first. One process.
        --date-order: never a child before its parent, even when both were committed in the
        same second (a record on the records branch and the advance it records)."""
        refs = [ref] if isinstance(ref, str) else list(ref)
        out = self.run("log", "--date-order", "--reverse", "-E", f"--grep={grep}", "--format=%H%x1f%ct%x1f%B%x1e", *refs, "--")
        commits = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            sha, time, message = record.split("\x1f", 2)
            commits.append((sha, int(time), message))
        return commits

    def read_files(self, commit: str, paths: list[str]) -> dict[str, bytes | None]:
        """Contents of `paths` at `commit` (None where absent), through one `cat-file --batch`."""
        found = self.read_blobs([f"{commit}:{path}" for path in paths])
        return {path: found[f"{commit}:{path}"] for path in paths}

    def read_blobs(self, names: list[str]) -> dict[str, bytes | None]:
        """Contents of blobs named any way git reads (`<blob id>`, `<commit>:<path>`), None
        where absent or not a blob, through one `cat-file --batch`."""
        names = list(dict.fromkeys(names))
        if not names:
            return {}
        request = "".join(f"{name}\n" for name in names).encode()
        out = subprocess.run(["git", "cat-file", "--batch"], cwd=self.root, input=request, capture_output=True, check=True).stdout
        contents: dict[str, bytes | None] = {}
        pos = 0
        for name in names:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 2 and header[1] == b"missing":
                contents[name] = None
                continue
            size = int(header[2])
            contents[name] = out[pos : pos + size] if header[1] == b"blob" else None
            pos += size + 1
        return contents

    def modes(self, commit: str) -> dict[str, str]:
        """path -> file mode for every file in the commit's tree (one process)."""
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit)
        modes = {}
        for entry in out.split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                modes[path] = meta.split()[0]
        return modes

    # --- writing ----------------------------------------------------------------------
    def commit_on(self, base: str, changes: dict[str, bytes], message: str, modes: dict[str, str] | None = None) -> str:
        """A new commit whose parent is `base` and whose tree is base's with `changes`
        applied, built with `git fast-import` (one process for any number of files);
        signed where git is set up to sign (`signing`): then one `git commit-tree -S` more.
        Nothing in the working tree, the index or any branch changes."""
        author, committer = self.identities()
        ref = f"refs/rollout/staging-{os.getpid()}"  # fast-import needs a ref; deleted below
        stream = bytearray()
        body = message.encode()
        stream += f"commit {ref}\nmark :1\nauthor {author}\ncommitter {committer}\n".encode()
        stream += f"data {len(body)}\n".encode() + body + b"\n"
        stream += f"from {base}\n".encode()
        modes = modes or {}
        for path, content in changes.items():
            if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
                raise ValueError(f"not a plain path in the repository: {path!r}")  # a bug upstream of here
            stream += f"M {modes.get(path, '100644')} inline {_quote_path(path)}\ndata {len(content)}\n".encode()
            stream += content + b"\n"
        stream += b"\n"
        self.run("fast-import", "--quiet", "--force", input=bytes(stream))
        sha = self.run("rev-parse", ref).strip()
        self.run("update-ref", "-d", ref)
        if not self.signing():
            return sha
        # fast-import cannot sign: the same tree, parent, message, author and committer
        # (dates included) again as a signed commit; fast-import's becomes garbage.
        return self._commit_tree(f"{sha}^{{tree}}", base, message, env={**_ident_env("AUTHOR", author),
                                                                         **_ident_env("COMMITTER", committer)})

    def identities(self) -> tuple[str, str]:
        """Author and committer as git would record them; a clear error when unset."""
        try:
            return self.run("var", "GIT_AUTHOR_IDENT").strip(), self.run("var", "GIT_COMMITTER_IDENT").strip()
        except GitError:
            raise GitError(
                "git does not know who is committing: set user.name and user.email "
                "(git config) or GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL/GIT_COMMITTER_NAME/GIT_COMMITTER_EMAIL"
            ) from None

    def drop_stale_scratch_refs(self) -> None:
        """`commit_on` deletes its scratch ref at once; a run killed in between leaves
        one behind (harmless: it names a commit nobody else uses). Tidy those of dead
        processes."""
        for line in self.run("for-each-ref", "--format=%(refname)", "refs/rollout/").splitlines():
            pid = line.rsplit("-", 1)[-1]
            if line.startswith("refs/rollout/staging-") and pid.isdigit() and not _alive(int(pid)):
                self.run("update-ref", "-d", line, check=False)

    def commit_empty_on(self, base: str, message: str) -> str:
        """A commit with `base`'s tree on `base` (a record), signed where git signs."""
        self.identities()
        return self._commit_tree(f"{base}^{{tree}}", base, message)

    # --- signing ----------------------------------------------------------------------
    def signing(self) -> bool:
        """Whether the commits this tool makes are signed: git's own `commit.gpgsign`
        (repository, global or `-c` config), read once per Git object. `git commit-tree`
        (2.39) does not honour it by itself: `_commit_tree` passes `-S`."""
        if not hasattr(self, "_signing"):
            out = subprocess.run(["git", "config", "--type=bool", "--get", "commit.gpgsign"], cwd=self.root,
                                 capture_output=True, text=True)
            if out.returncode not in (0, 1):  # 1: unset
                raise GitError(f"commit.gpgsign: {_git_problem(out.stderr)}: set it to true or false "
                               "(git config commit.gpgsign true)")
            self._signing = out.stdout.strip() == "true"
        return self._signing

    def signed(self, commit: str) -> bool:
        """Whether `commit` carries a signature at all (a `gpgsig` header), valid or not."""
        return self.signed_commits([commit])[commit]

    def signed_commits(self, commits: list[str]) -> dict[str, bool]:
        """commit -> whether it carries a signature (`gpgsig` or `gpgsig-sha256` header),
        through one `cat-file --batch`; valid or not is `git verify-commit`'s to say."""
        if not commits:
            return {}
        request = "".join(f"{commit}\n" for commit in commits).encode()
        out = subprocess.run(["git", "cat-file", "--batch"], cwd=self.root, input=request, capture_output=True,
                             check=True).stdout
        signed, pos = {}, 0
        for commit in commits:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) != 3 or header[1] != b"commit":
                raise GitError(f"{commit} is not a commit")
            size = int(header[2])
            headers = out[pos : pos + size].split(b"\n\n", 1)[0]
            signed[commit] = any(line.startswith((b"gpgsig ", b"gpgsig-sha256 ")) for line in headers.split(b"\n"))
            pos += size + 1
        return signed

    def _commit_tree(self, tree: str, parent: str, message: str, env: dict | None = None) -> str:
        """`git commit-tree`, with `-S` where git signs; a signature git cannot make is
        one line naming the set-up to fix, raised before anything is published."""
        if not self.signing():
            return self.run("commit-tree", tree, "-p", parent, input=message.encode(), env=env).strip()
        result = subprocess.run(["git", "commit-tree", "-S", tree, "-p", parent], cwd=self.root,
                                input=message.encode(), capture_output=True, env={**os.environ, **(env or {})})
        if result.returncode != 0:
            raise GitError(self._signing_problem(result.stderr.decode(errors="replace")))
        return result.stdout.decode().strip()

    def _signing_problem(self, stderr: str) -> str:
        fmt = self.run("config", "--get", "gpg.format", check=False).strip() or "openpgp"
        key = self.run("config", "--get", "user.signingkey", check=False).strip()
        what = {"ssh": "an SSH private key's path (or `key::<public key>` held by ssh-agent)",
                "x509": "a certificate gpgsm holds"}.get(fmt, "a secret key's id gpg holds (gpg --list-secret-keys)")
        return scrubbed(f"git could not sign the commit (commit.gpgsign true, gpg.format {fmt}, user.signingkey "
                        f"{key or 'unset'}): {_git_problem(stderr)}; nothing was pushed: set user.signingkey to "
                        f"{what} and gpg.format to its kind (ssh, openpgp, x509), or commit.gpgsign false to "
                        "commit unsigned")

    def push(self, upstream: Upstream, commit: str) -> str | None:
        """Publish `commit` as the remote branch, never forced: "moved" when this push
        moved the remote, "already" when the remote already was at `commit` (another
        runner pushed the very same commit), None when the remote moved meanwhile."""
        return self.push_ref(upstream.remote, commit, f"refs/heads/{upstream.branch}")

    def push_ref(self, remote: str, commit: str, ref: str, lease: str | None = None) -> str | None:
        """`push` to any ref of `remote`. With `lease` (the commit the ref must hold now),
        the ref may be replaced by a commit that does not descend from it: only the
        rollout's own pull-request branches are ever pushed so, never the followed branch."""
        args = ["git", "push", "--porcelain", remote, f"{commit}:{ref}"]
        if lease is not None:
            args[2:2] = [f"--force-with-lease={ref}:{lease}"]
        result = subprocess.run(args, cwd=self.root, capture_output=True, text=True)
        if result.returncode == 0:
            # --porcelain: one line per ref, flag first: "=" up to date, " " "*" "+" updated
            for line in result.stdout.splitlines():
                parts = line.split("\t")
                if len(parts) >= 2 and parts[1].endswith(f":{ref}"):
                    return "already" if parts[0] == "=" else "moved"
            return "moved"
        text = result.stdout + result.stderr
        if any(sign in text for sign in ("[rejected]", "non-fast-forward", "fetch first", "cannot lock ref",
                                         "stale info", "already exists")):
            return None
        raise GitError(scrubbed(f"git push: {(result.stderr.strip().splitlines() or ['failed'])[-1]}"))

    def delete_remote_ref(self, remote: str, ref: str) -> bool:
        return self.ok("push", "--quiet", remote, f":{ref}")

    def fetch_refs(self, remote: str, refspecs: list[str]) -> None:
        self.run("fetch", "--quiet", "--prune", remote, *refspecs)

    def refs_under(self, prefix: str) -> list[tuple[str, str, str, str]]:
        """(ref, commit, first parent, message) of every ref under `prefix` (one process)."""
        out = self.run("for-each-ref", "--format=%(refname)%1f%(objectname)%1f%(parent)%1f%(contents)%1e", prefix)
        refs = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if record:
                ref, sha, parents, message = record.split("\x1f", 3)
                refs.append((ref, sha, parents.split()[0] if parents.split() else "", message))
        return refs

    def merge_tree(self, ours: str, theirs: str) -> str | None:
        """The tree of merging `theirs` into `ours` (their merge base found by git), or None
        on a conflict. Nothing is written but objects."""
        result = subprocess.run(["git", "merge-tree", "--write-tree", "--no-messages", ours, theirs], cwd=self.root,
                                capture_output=True, text=True)
        if result.returncode == 1:
            return None
        if result.returncode != 0:
            raise GitError(scrubbed(f"git merge-tree: {(result.stderr.strip().splitlines() or ['failed'])[-1]}"))
        return result.stdout.split()[0]

    def commit_tree(self, tree: str, parent: str, message: str) -> str:
        """A commit of `tree` on `parent` (a rebuilt pull-request branch), signed where git signs."""
        self.identities()
        return self._commit_tree(tree, parent, message)

    def fetch(self, upstream: Upstream) -> None:
        """The followed branch, and the rollout's own branches (pull requests, records:
        docs/delivery.md), in one fetch; a missing `rollout/*` is no error."""
        self.run("fetch", "--quiet", "--prune", upstream.remote, f"+refs/heads/{upstream.branch}:{upstream.ref}",
                 f"+refs/heads/rollout/*:refs/remotes/{upstream.remote}/rollout/*")

    def fast_forward(self, commit: str) -> None:
        """Move the checked-out branch and the working tree to `commit` (a descendant),
        journaled so that a kill at any moment is finished by the next run
        (rollout/git/checkout.py)."""
        branch = self.branch()
        if branch is None:
            raise GitError("HEAD is detached")
        move(self, branch, self.head(), commit)

    # --- helpers of the journaled move --------------------------------------------------
    def git_dir(self) -> Path:
        if not hasattr(self, "_git_dir"):
            self._git_dir = Path(self.run("rev-parse", "--absolute-git-dir").strip())
        return self._git_dir

    def read_blob(self, blob: str) -> bytes:
        return subprocess.run(["git", "cat-file", "blob", blob], cwd=self.root, capture_output=True, check=True).stdout

    def filtered_blobs(self, blobs: list[tuple[str, str]]) -> dict[str, bytes]:
        """path -> the blob's content as a checkout writes it (eol and smudge filters of
        `.gitattributes` applied), for (blob id, path) pairs, in one process."""
        if not blobs:
            return {}
        request = "".join(f"{blob} {path}\n" for blob, path in blobs).encode()
        out = subprocess.run(["git", "cat-file", "--batch", "--filters"], cwd=self.root, input=request,
                             capture_output=True, check=True).stdout
        contents, pos = {}, 0
        for _, path in blobs:
            end = out.index(b"\n", pos)
            size = int(out[pos:end].split()[2])
            contents[path] = out[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
        return contents

    def hash_paths(self, paths: list[str]) -> dict[str, str]:
        """path -> blob id of the file as `git add` would store it (clean filters applied)."""
        if not paths:
            return {}
        out = self.run("hash-object", "--stdin-paths", input="".join(f"{p}\n" for p in paths).encode())
        return dict(zip(paths, out.split()))

    def staged(self, paths: list[str]) -> dict[str, str]:
        """path -> blob id of its index entry (absent paths are left out)."""
        if not paths:
            return {}
        out = self.run("ls-files", "-s", "-z", "--", *paths)
        staged = {}
        for entry in out.split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                staged[path] = meta.split()[1]
        return staged


def _failed(args, stderr: bytes) -> GitError:
    """A git command's failure as one line: its last line of stderr, secrets scrubbed."""
    message = stderr.decode(errors="replace").strip().splitlines()
    return GitError(scrubbed(f"git {args[0]}: {message[-1] if message else 'failed'}"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_IDENT = re.compile(r"^(.*) <([^<>]*)> (\d+ [+-]\d{4})$")


def _ident_env(who: str, ident: str) -> dict[str, str]:
    """GIT_AUTHOR_* (or GIT_COMMITTER_*) that make git record `ident` ("Name <email> when tz") as is."""
    match = _IDENT.match(ident)
    if match is None:
        raise GitError(f"git var GIT_{who}_IDENT: cannot read {ident!r}")
    name, email, when = match.groups()
    return {f"GIT_{who}_NAME": name, f"GIT_{who}_EMAIL": email, f"GIT_{who}_DATE": f"@{when}"}


def _git_problem(stderr: str) -> str:
    """git's (or gpg's, ssh-keygen's) complaint as one line: its lines, prefixes and gpg's
    status lines left out."""
    lines = []
    for line in stderr.splitlines():
        line = line.strip()
        for prefix in ("error: ", "fatal: "):
            line = line.removeprefix(prefix)
        if line and not line.startswith("[GNUPG:]") and line not in lines:
            lines.append(line)
    return "; ".join(lines) or "failed"


def _quote_path(path: str) -> str:
    if any(ch in path for ch in ('"', "\\", "\n")) or path.startswith(" "):
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return path
