"""`rollout simulate --scm github|gitlab`: a forge beside the simulated fleet.

store.py keeps the pull requests and does what a forge does on a merge (a real git
merge, squash or rebase whose result it writes into the bare repository by updating
the ref itself, not by pushing); github.py and gitlab.py serve the REST subset their
client libraries (PyGithub, python-gitlab) call, on the simulator's aiohttp server.
"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Callable

# scm name -> the module serving its REST subset. Each offers
#   add_routes(app, store, prefix)            mount the API under `prefix` on the aiohttp app
#   environment(base_url, store) -> dict      the CI variables pointing at it (`base_url`: the
#                                             simulator's URL + prefix), for the `ready` line
#   COMMITTER = (name, email)                 optional: who the forge's merges are committed by
FORGES = {
    "github": "rollout.simulator.forge.github",
    "gitlab": "rollout.simulator.forge.gitlab",
}


def load(scm: str) -> ModuleType:
    return importlib.import_module(FORGES[scm])


def prefix(scm: str) -> str:
    """Where `scm`'s API is mounted on the simulator: /github, /gitlab."""
    return f"/{scm}"


def options_problem(scm: str | None, protect: bool, required_checks: list[str], repo: str | None,
                    sign_merges: str | None = None) -> str | None:
    """--scm / --protect / --required-check / --sign-merges need a local bare --repo: the
    forge merges into it and the hook lives in it. One line, or None."""
    if scm is not None and scm not in FORGES:
        return f"--scm {scm}: expected one of {', '.join(FORGES)}"
    if required_checks and scm is None:
        return "--required-check needs --scm (the forge checks it before merging)"
    if sign_merges is not None and scm is None:
        return "--sign-merges needs --scm (the forge signs the commits it makes)"
    if sign_merges is not None and not Path(sign_merges).is_file():
        return f"--sign-merges {sign_merges}: no such file (an ssh private key, as ssh-keygen writes it)"
    if scm is None and not protect:
        return None
    flag = "--scm" if scm is not None else "--protect"
    if repo is None or not Path(repo).is_dir():
        return f"{flag} needs --repo to be a local bare repository (the forge merges into it)"
    bare = subprocess.run(["git", "-C", repo, "rev-parse", "--is-bare-repository"], capture_output=True, text=True)
    if bare.stdout.strip() != "true":
        return f"{flag}: --repo {repo} is not a bare repository (the forge merges into it)"
    return None


def attach(sim, scm: str | None, protect: bool, required_checks: tuple[str, ...],
           signing_key: Path | None = None) -> Callable[[str], dict[str, str]]:
    """Protect the followed branch and give the simulator its forge (after its first
    refresh, which settles the branch). Returns url -> the forge's CI variables ({} without
    a forge). `sim.source` is the bare repository (options_problem checked). `signing_key`:
    the forge signs the commits it makes with it."""
    from rollout.simulator.forge.store import ForgeStore, protect as protect_branch

    bare = Path(sim.source).resolve()
    if protect:
        protect_branch(bare, sim.branch)
    if scm is None:
        return lambda url: {}
    module = load(scm)
    store = ForgeStore(bare, "fleet", bare.name.removesuffix(".git"), default_branch=sim.branch,
                       required_checks=required_checks, signing_key=signing_key,
                       **({"committer": module.COMMITTER} if hasattr(module, "COMMITTER") else {}))
    sim.forge = (scm, store)
    return lambda url: module.environment(url + prefix(scm), store)
