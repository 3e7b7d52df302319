"""The commands CI runs all night, at fleet scale (issue 21), in one run, interleaved:

- the floor: `python -c` reading the same Fleet file with yaml_rs and writing it with
  json.dumps (what no command that reads the inventory can beat);
- `rollout plan big --format json`;
- `rollout status big` (the table people type), warm: the step before it left the cache;
- `rollout run big` on a step that only waits: the canary wave is out and baking (24h), no
  gates, so the step judges, decides to wait and writes nothing; warm, as every step but
  the first after an advance is;
- `status` and `run` cold: the cache in .git removed before each run (the first step after
  a clone, or after the policy, the inventory or the tree changed), each run right before
  its warm one.

Each round runs every command once, in turn, so the machine's drift hits them alike;
figures are medians over the rounds, ratios of medians, of the wall time and of the CPU
time (user + system of the command and the git processes it waited for: what the
command costs, which other jobs on a shared machine disturb much less). Peak memory is
`/usr/bin/time -f %M` of one extra run each.

    .venv/bin/python benchmarks/bench_fleet.py                    # 10,000 and 100,000 clusters, 7 rounds
    .venv/bin/python benchmarks/bench_fleet.py --sizes 10000 --runs 11

The `gate` row (10,000 Argo CD clusters against the simulator) is benchmarks/bench_gates.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_advance import ENV as _ENV, git  # noqa: E402
from common import DATA, ROLLOUT, wait_quiet  # noqa: E402
from make_fleet import VERSION, make  # noqa: E402

# The commands run in the fleet's folder: a relative PYTHONPATH (`PYTHONPATH=.` in a worktree)
# would name that folder, and the venv's editable install (another checkout) would be timed.
ENV = {**_ENV, "PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in _ENV.get("PYTHONPATH", "").split(os.pathsep) if p)}
BASELINE: dict | None = None  # --baseline: the environment that runs the other checkout


def code_of(env: dict) -> str:
    """Which checkout `env` runs (what `import rollout` finds)."""
    return subprocess.run([sys.executable, "-c", "import rollout, os; print(os.path.dirname(os.path.dirname(rollout.__file__)))"],
                          env=env, cwd="/", capture_output=True, text=True, check=True).stdout.strip()


BAKE = "      bake: 240h\n"  # the canary bakes for days: every run of this benchmark only waits
CACHES = ("rollout-plans.pickle", "rollout-facts.pickle", "rollout-checks.pickle")


def fleet(n: int) -> Path:
    """DATA/speed-N/work: a clone (a bare remote beside it) of a make_fleet repo whose
    canary wave bakes, with the canary advanced and pushed."""
    root = DATA / f"speed-{n}"
    stamp = root / ".made-by"
    want = f"bench_fleet {VERSION} {n} {BAKE.strip()}\n"
    if stamp.is_file() and stamp.read_text() == want:
        return root / "work"
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    source = make(n, root / "source")
    policy = source / "rollouts/big.yaml"
    canary = "      selector: {matchLabels: {environment: dev, region: us-east}}\n"
    policy.write_text(policy.read_text().replace(canary, canary + BAKE, 1))
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "fleet")
    git(root, "clone", "-q", "--bare", str(source), str(root / "remote.git"))
    shutil.rmtree(source)
    work = root / "work"
    git(root, "clone", "-q", str(root / "remote.git"), str(work))
    subprocess.run([*ROLLOUT, "advance", "big", "--wave", "1"], cwd=work, env=ENV, check=True,
                   stdout=subprocess.DEVNULL)
    stamp.write_text(want)
    print(f"  (made {work} in {time.perf_counter() - start:.0f} s)", flush=True)
    return work


def commands(work: Path) -> dict[str, tuple[list[str], bool]]:
    """name -> (command, whether the cache is dropped before it)."""
    floor = ("import json, yaml_rs; "
             "json.dumps(yaml_rs.loads(open('fleet/clusters.yaml', encoding='utf-8').read()))")
    return {  # each warm run after its cold one: what the run before it kept is what it finds
        "floor": ([sys.executable, "-c", floor], False),
        "plan": ([*ROLLOUT, "plan", "big", "--format", "json"], False),
        "status cold": ([*ROLLOUT, "status", "big"], True),
        "status": ([*ROLLOUT, "status", "big"], False),
        "run cold": ([*ROLLOUT, "run", "big"], True),
        "run": ([*ROLLOUT, "run", "big"], False),
    }


def drop_cache(work: Path) -> None:
    for name in CACHES:
        (work / ".git" / name).unlink(missing_ok=True)


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


PIPE = False  # --stdout pipe: the output read through a pipe by this process, as before


def once(command: list[str], work: Path, env: dict | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run. Its output goes to a file (what CI does with a plan):
    read through a pipe, this process's reading and decoding (32 MB of JSON at 100,000
    clusters) shares the two cores with the command and adds up to ~0.2 s to its wall time."""
    import tempfile

    with tempfile.TemporaryFile() as out:
        start, cpu = time.perf_counter(), _cpu()
        done = subprocess.run(command, cwd=work, env=env or ENV, stdout=subprocess.PIPE if PIPE else out,
                              stderr=subprocess.PIPE, text=True)
        took = time.perf_counter() - start, _cpu() - cpu
        if not PIPE:
            out.seek(0)
            done.stdout = out.read().decode()
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    if command[-2:] == ["run", "big"] and "waiting" not in done.stdout:
        sys.exit(f"run did not only wait: {done.stdout.strip()[-300:]}")
    return took


def peak(command: list[str], work: Path, env: dict | None = None) -> int:
    """Peak RSS in MB (`/usr/bin/time -f %M`)."""
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=work, env=env or ENV, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    return round(int(done.stderr.strip().splitlines()[-1]) / 1024)


BASE = " (base)"  # a command of the baseline checkout: `plan (base)`


def measure(n: int, runs: int, only: list[str] | None = None) -> None:
    work = fleet(n)
    cmds = {name: c for name, c in commands(work).items() if only is None or name in only}
    if BASELINE is not None:  # each right after this checkout's own: the same moment's machine
        order = []
        for name in cmds:  # a warm run right after its cold one: the other checkout's would replace the cache
            order.append(name)
            if name != "floor" and not name.endswith(" cold"):
                order += [base + BASE for base in (name + " cold", name) if base in cmds]
        cmds = {name: cmds[name.removesuffix(BASE)] for name in order}
    envs = {name: BASELINE if name.endswith(BASE) else ENV for name in cmds}
    for name, (command, _) in cmds.items():  # warm the page cache and the rollout cache
        once(command, work, envs[name])
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    print(f"\n{n:,} clusters ({(work / 'fleet/clusters.yaml').stat().st_size / 1e6:.1f} MB Fleet file), "
          f"{runs} rounds; before: {wait_quiet()}", flush=True)
    for _ in range(runs):
        for name, (command, cold) in cmds.items():
            if cold:
                drop_cache(work)
            samples[name].append(once(command, work, envs[name]))
    med = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    cpu = {name: statistics.median(c for _, c in s) for name, s in samples.items()}
    memory = {}
    for name, (command, cold) in cmds.items():  # the same order: each warm one finds what its cold one kept
        if cold:
            drop_cache(work)
        memory[name] = peak(command, work, envs[name])
    versus = {"floor": None, "plan": "floor", "status": "plan", "run": "plan", "status cold": "plan",
              "run cold": "plan"}
    versus.update({name + BASE: ("floor" if name == "plan" else "plan" + BASE) for name in list(versus) if name != "floor"})
    versus = {name: base if base in cmds else None for name, base in versus.items()}
    print(f"  {'command':12s} {'wall':>8s} {'min':>7s} {'max':>7s} {'ratio':>12s}  {'CPU':>7s} {'ratio':>12s}  peak")
    for name, s in samples.items():
        base = versus[name]
        ratio = f"{med[name] / med[base]:.2f}x {base}" if base else ""
        cpu_ratio = f"{cpu[name] / cpu[base]:.2f}x {base}" if base else ""
        walls = [w for w, _ in s]
        print(f"  {name:12s} {med[name]:7.3f}s {min(walls):6.3f}s {max(walls):6.3f}s {ratio:>12s}  {cpu[name]:6.3f}s "
              f"{cpu_ratio:>12s}  {memory[name]} MB")
    for name in samples:
        if name + BASE in samples:  # per round: this checkout's run over the baseline's beside it
            pairs = list(zip(samples[name], samples[name + BASE]))
            print(f"  {name} / {name + BASE} per round: wall median {statistics.median(a[0] / b[0] for a, b in pairs):.3f}x, "
                  f"CPU median {statistics.median(a[1] / b[1] for a, b in pairs):.3f}x")
    if only is None:
        imports(work)
    print(f"  after: {wait_quiet(max_wait=0)}")


HEAVY = ("networkx", "pydantic", "kubernetes", "rich")


def imports(work: Path) -> None:
    """`python -X importtime` of each command (one run, warm): the import time by top-level
    package (self times summed; -X importtime inflates them a little) and which heavy ones load."""
    for name in ("plan", "status", "run"):
        command = commands(work)[name][0]
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "rollout", *command[1:]], cwd=work, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        per: dict[str, int] = {}
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "cumulative" not in line:
                own, _, module = line[len("import time:"):].split("|")
                per[module.strip().split(".")[0]] = per.get(module.strip().split(".")[0], 0) + int(own)
        top = sorted(per.items(), key=lambda kv: -kv[1])[:7]
        print(f"  imports of {name}: {sum(per.values()) / 1000:.0f} ms: "
              + ", ".join(f"{m} {us / 1000:.0f}" for m, us in top)
              + f"; heavy: {', '.join(h for h in HEAVY if h in per) or 'none'}")


# Where a command's time goes: the cumulative CPU time of these functions in one warm run under
# cProfile (which inflates Python-heavy parts ~1.5-2x: read shares, not timings), rows by
# (label, file, function); an indented row is part of the one above it.
PHASES = {
    "plan": [("load the policy", "policy_file.py", "load_policy"),
             ("read the inventory", "inventory/__init__.py", "load_inventory"),
             ("  of which yaml-rs's parse", "yamlfile.py", "load_documents"),
             ("plan", "planner.py", "make_plan"),
             ("pinned files exist", "workspace.py", "check_pin_files"),
             ("write the JSON", "plan_json.py", "write")],
    "status": [("the plan (kept)", "workspace.py", "_load_workspace"),
               ("  of which its key (inventory hashed)", "reuse.py", "plan_key"),
               ("  of which reading it", "reuse.py", "planned"),
               ("the events (git log)", "history.py", "read_events"),
               ("what the pinned files say (kept)", "reuse.py", "at_revision"),
               ("fold, trust screen", "session.py", "fold_events"),
               ("pauses (git log)", "controls.py", "hold_of"),
               ("the table", "render/status.py", "render")],
    "run": [("open the checkout, fetch", "session.py", "open_synced"),
            ("the snapshot: plan, checks (kept), events, fold", "step.py", "snapshot"),
            ("  of which the plan and the checks", "session.py", "load"),
            ("judge the gates (a bake: no gate)", "gate_check.py", "evaluate"),
            ("decide, build nothing, publish nothing", "step.py", "carry_out"),
            ("the rollout after the step", "step.py", "after"),
            ("the log lines", "run.py", "lines")],
}


STATUS_STEPS = """
import time, sys, io, contextlib
T = time.process_time
marks = [("start", T())]
def mark(name): marks.append((name, T()))
from rollout import pydantic_plugins; pydantic_plugins.skip()  # as rollout.cli.main() does
import rollout.cli; mark("typer, rollout.cli")
from pathlib import Path
import rollout.status as st; mark("waves.state, pydantic and the policy models, rollout's modules")
from rollout.git.repo import Git
from rollout.workspace import load_workspace, repo_root
root = repo_root(None, "big"); git = Git(root); git.toplevel()
ws = load_workspace(root, "big", reuse=git, strict=False); mark("the kept plan (policy, key, unpickle, pinned files exist)")
held = st.at_revision(ws, git); mark("what the pinned files say (kept)")
from rollout.git.history import followed_remote, history_refs, read_events
from rollout.session import fold_events
from rollout.delivery import delivery_for
from rollout.controls import hold_of
remote = followed_remote(git); refs = history_refs(git, remote)
events = read_events(git, refs, ws.plan.policy, arrivals_for=ws.plan.revision)
state = fold_events(delivery_for(ws.loaded.policy.spec.delivery), git, remote, ws, events, int(time.time()), held)
hold = hold_of(git, ws.plan.policy, int(time.time()), refs, ws); mark("events, fold, the trust screen, pauses")
from rollout.render.status import render
with contextlib.redirect_stdout(io.StringIO()):
    render(ws.plan, state, "table", hold)
mark("the table (rich)")
print("\\n".join(f"{n}\\t{(t - t0) * 1000:.1f}" for (n, t), (_, t0) in zip(marks[1:], marks)))
"""


PLAN_STEPS = """
import time, sys, os
T = time.process_time
marks = [("start", T())]
def mark(name): marks.append((name, T()))
from rollout import pydantic_plugins; pydantic_plugins.skip()  # as rollout.cli.main() does
import typer; mark("typer")
import rollout.cli, typer.main; mark("rollout.cli")
import pydantic, waves.policy; mark("pydantic and the policy's models (pydantic's internals)")
command = typer.main.get_command(rollout.cli.only(["plan", "big"]))  # typer's parsing imports pydantic too
context = command.make_context("rollout", ["plan", "big", "--format", "json"]); mark("the command built, argv parsed")
from rollout.hubs import connect
from rollout.workspace import repo_root, _plan, check_pin_files
from rollout.render.plan_json import write
import rollout.yamlfile, waves.planner; mark("rollout's and waves' modules (inventory, planner, yaml-rs)")
from rollout.policy_file import load_policy
from rollout.yamlfile import bulk
with bulk():
    root = repo_root(None, "big"); policy = load_policy(root / "rollouts/big.yaml").policy; mark("find the repo (git rev-parse), read the policy")
    from rollout.inventory import load_inventory
    clusters, problems = load_inventory(root, [("fleet", "fleet/clusters.yaml")]); mark("read the inventory")
    plan = waves.planner.make_plan(policy, clusters); mark("plan")
    assert not check_pin_files(root, plan); mark("pinned files exist")
with open(os.devnull, "w") as null:
    write(null, plan, pretty=False)
mark("write the JSON")
print("\\n".join(f"{n}\\t{(t - t0) * 1000:.1f}" for (n, t), (_, t0) in zip(marks[1:], marks)))
"""


def steps(work: Path, name: str, code: str, runs: int = 5) -> None:
    """A command's steps timed in CPU time in fresh interpreters, warm (medians); with
    --baseline, the baseline's beside, run for run."""
    envs = {"this": ENV} | ({"base": BASELINE} if BASELINE is not None else {})
    for env in envs.values():
        once(commands(work)[name][0], work, env)
    samples: dict[str, dict[str, list[float]]] = {which: {} for which in envs}
    for _ in range(runs):
        for which, env in envs.items():
            out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                                 check=True).stdout
            for line in out.splitlines():
                step, ms = line.split("\t")
                samples[which].setdefault(step, []).append(float(ms))
    print(f"  `rollout {name} big`, warm, CPU ms by step (median of {runs} fresh interpreters; "
          f"{', '.join(f'{w}: {code_of(e)}' for w, e in envs.items())}):")
    print(f"    {'':66s} " + " ".join(f"{w:>7s}" for w in envs))
    for step in samples["this"]:
        print(f"    {step:66s} " + " ".join(f"{statistics.median(samples[w].get(step, [0.0])):7.1f}" for w in envs))
    print(f"    {'in the process':66s} "
          + " ".join(f"{sum(statistics.median(v) for v in samples[w].values()):7.1f}" for w in envs))


def where(work: Path, name: str) -> None:
    """One warm run of `name` in this interpreter under cProfile: the phases' shares."""
    import cProfile
    import contextlib
    import io
    import pstats

    command = commands(work)[name][0][1:]
    os.chdir(work)
    profile = cProfile.Profile(time.process_time)  # CPU time: a shared machine's waits are not the command's
    children = _cpu()
    sys.argv = ["rollout", *command]
    from rollout.cli import main as cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        profile.enable()
        try:
            cli()
        except SystemExit:
            pass
        profile.disable()
    git = _cpu() - children
    stats = pstats.Stats(profile).stats
    total = max(ct for (_, _, _, ct, _) in stats.values())  # main(): the whole command but the interpreter's start
    print(f"  where `rollout {' '.join(command)}` goes (cProfile of CPU time, one warm run: {total:.2f} s in the "
          f"command, imports inside it included, + {git:.2f} s in git processes):")
    listed = 0.0
    for label, file, func in PHASES[name]:
        found = max((ct for (path, _, fn), (_, _, _, ct, _) in stats.items() if fn == func and path.endswith(file)),
                    default=0.0)
        listed += 0 if label.startswith(" ") else found
        print(f"    {label:50s} {found * 1000:6.0f} ms {100 * found / total:5.1f} %")
    rest = total - listed
    print(f"    {'imports (typer, pydantic, the models, ...), the rest':50s} {rest * 1000:6.0f} ms {100 * rest / total:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--where", metavar="COMMAND",
                        help="plan, status or run: where its time goes (one size); status-steps, plan-steps: the command "
                             "timed step by step")
    parser.add_argument("--baseline", metavar="DIR",
                        help="another checkout of rollout (its root): each command (and each step) of it is run right "
                             "after this one's, in every round, and compared per round")
    parser.add_argument("--only", metavar="NAMES", help="these commands only, e.g. floor,plan")
    parser.add_argument("--stdout", choices=("file", "pipe"), default="file",
                        help="where each command's output goes: a file (default), or a pipe this process reads")
    args = parser.parse_args()
    global BASELINE, PIPE
    PIPE = args.stdout == "pipe"
    if args.baseline:
        BASELINE = {**ENV, "PYTHONPATH": os.path.abspath(args.baseline)}
    if args.where in ("status-steps", "plan-steps"):
        name = args.where.split("-")[0]
        steps(fleet(int(args.sizes.split(",")[0])), name, STATUS_STEPS if name == "status" else PLAN_STEPS)
        return
    if args.where:
        work = fleet(int(args.sizes.split(",")[0]))
        once(commands(work)[args.where][0], work)  # warm
        where(work, args.where)
        return
    print(f"python {sys.version.split()[0]}, {ROLLOUT[0]} running {code_of(ENV)}"
          + (f"; baseline {code_of(BASELINE)}" if BASELINE else ""))
    for n in (int(s) for s in args.sizes.split(",")):
        measure(n, args.runs, args.only.split(",") if args.only else None)


if __name__ == "__main__":
    main()
