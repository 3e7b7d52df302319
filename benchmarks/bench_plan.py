"""`rollout plan` wall time at 1,000 / 10,000 / 50,000 clusters (subprocess, including
interpreter start), `rollout --help` and `python -c pass` (the floor), the in-process
breakdown of a plan, and the modules the --help path imports.

    .venv/bin/python benchmarks/bench_plan.py                # all of it, 9 runs each
    .venv/bin/python benchmarks/bench_plan.py --runs 15 --sizes 1000,10000

Test repos are generated (benchmarks/make_fleet.py) under benchmarks/.data/ when missing
or made by an older generator. Targets (docs/performance.md): --help < 0.25 s; plan of
10,000 clusters < 1 s; time linear in the number of clusters.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, ROLLOUT, fmt, timed, wait_quiet
from make_fleet import is_current, make

SIZES = (1000, 10000, 50000)
HEAVY = ("networkx", "rich", "pydantic", "kubernetes")
STEPS = ("policy", "inventory", "yaml_rs_parse", "make_plan", "pin_files", "json")


def repo(n: int, quoted_no: bool = False) -> Path:
    root = DATA / (f"fleet-{n}" + ("-quoted-no" if quoted_no else ""))
    if not is_current(root, n, quoted_no=quoted_no):
        shutil.rmtree(root, ignore_errors=True)
        start = time.perf_counter()
        make(n, root, quoted_no=quoted_no)
        print(f"  (generated {root} in {time.perf_counter() - start:.1f} s)")
    return root


CLOCK = time.perf_counter  # --cpu: time.process_time, the steps' own CPU (a shared machine disturbs it less)


class _Null:
    def write(self, text: str) -> None:
        pass


def in_process(root: str) -> None:
    """One run of each step as `rollout plan` does it, in this fresh interpreter; prints
    seconds per step as JSON. Run by main() in a subprocess per repetition."""
    t0 = CLOCK()
    import pydantic  # noqa: F401
    import yaml  # noqa: F401
    import yaml_rs

    from rollout.inventory import load_inventory
    from rollout.policy_file import load_policy
    from rollout.render.plan_json import write
    from rollout.workspace import check_pin_files
    from rollout.yamlfile import bulk, read_text
    from waves.planner import make_plan

    out = {"imports": CLOCK() - t0}  # make_plan imports nothing since waves/dag.py replaced networkx
    path = Path(root)
    with bulk():  # as `rollout plan` does (rollout/workspace.py): no cyclic GC while loading
        s = CLOCK()
        policy = load_policy(path / "rollouts/big.yaml").policy
        out["policy"] = CLOCK() - s
        s = CLOCK()
        clusters, problems = load_inventory(path, [("fleet", "fleet/clusters.yaml")])
        out["inventory"] = CLOCK() - s
        assert not problems, problems[:3]
        s = CLOCK()
        plan = make_plan(policy, clusters)
        out["make_plan"] = CLOCK() - s
        s = CLOCK()
        assert not check_pin_files(path, plan)
        out["pin_files"] = CLOCK() - s
    s = CLOCK()
    write(_Null(), plan, pretty=False)  # as `plan` writes it to a pipe (pauses the GC itself)
    out["json"] = CLOCK() - s
    with bulk():  # the parse alone, part of `inventory` above; measured last so as not to warm it
        text = read_text(path / "fleet/clusters.yaml")
        s = CLOCK()
        yaml_rs.loads(text)
        out["yaml_rs_parse"] = CLOCK() - s
    out["clusters"], out["waves"] = len(clusters), len(plan.waves)
    print(json.dumps(out))


def breakdown(root: Path, runs: int) -> dict[str, float]:
    samples = [
        json.loads(subprocess.run([sys.executable, __file__, "--in-process", str(root),
                                   *(["--cpu"] if CLOCK is time.process_time else [])],
                                  capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def importtime(code: str) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, module) for each import of `python -X importtime -c code`."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False).stderr
    rows = []
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            own, cum, name = line[len("import time:"):].split("|")
            rows.append((int(own), int(cum), name.strip()))
    return rows


def import_cost(module: str, runs: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}" if b else "  -  "


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--in-process", metavar="DIR")
    parser.add_argument("--cpu", action="store_true", help="in-process steps timed in CPU time, not wall time")
    args = parser.parse_args()
    global CLOCK
    if args.cpu:
        CLOCK = time.process_time
    if args.in_process:
        in_process(args.in_process)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = args.runs
    py = Path(sys.executable)
    print(f"python {sys.version.split()[0]} ({py}), {runs} runs each")
    roots = {n: repo(n) for n in sizes}
    if 10000 in sizes:
        repo(10000, quoted_no=True)
    print("before: " + wait_quiet())

    # --help path imports (one run each: which modules, not how long)
    help_rows = importtime("import rollout.cli")
    help_rows += importtime("import sys; sys.argv = ['rollout', '--help']; from rollout.cli import main; main()")
    heavy = sorted({name.split(".")[0] for _, _, name in help_rows} & set(HEAVY))
    cli_ms = next(cum for _, cum, name in help_rows if name == "rollout.cli") / 1000
    print(f'\n`{py.name} -X importtime -c "import rollout.cli"` (and running --help): '
          + (f"imports {', '.join(heavy)} (should not)" if heavy else f"no {'/'.join(HEAVY)} import")
          + f"; import rollout.cli {cli_ms:.0f} ms")

    # what the plan command spends importing, per package (self times summed; one run,
    # -X importtime inflates them a little)
    plan_code = (f"import sys; sys.argv = ['rollout', 'plan', 'big', '--repo', {str(roots[sizes[0]])!r}, '--format', 'json'];"
                 " from rollout.cli import main; main()")
    per_package: dict[str, int] = {}
    for own, _, name in importtime(plan_code):
        per_package[name.split(".")[0]] = per_package.get(name.split(".")[0], 0) + own
    top = sorted(per_package.items(), key=lambda kv: -kv[1])
    print(f"`rollout plan` imports (-X importtime, self time by package): total {sum(per_package.values()) / 1000:.0f} ms: "
          + ", ".join(f"{name} {us / 1000:.0f}" for name, us in top[:8]))

    floor = timed([sys.executable, "-c", "pass"], runs=runs)
    help_ = timed([*ROLLOUT, "--help"], runs=runs)
    print(f"\n{'python -c pass':28s} {fmt(floor)}")
    print(f"{'rollout --help':28s} {fmt(help_)}  target < 0.25 s")
    costs = {m: import_cost(m, runs) for m in ("networkx", "pydantic", "typer", "yaml", "yaml_rs", "waves.policy")}
    print("import cost (median of `import X` timed inside a fresh interpreter; waves.policy includes pydantic): "
          + ", ".join(f"{m} {c * 1000:.0f} ms" for m, c in costs.items()))

    whole, parts = {}, {}
    for n, root in roots.items():
        size = (root / "fleet/clusters.yaml").stat().st_size
        cmd = [*ROLLOUT, "plan", "big", "--repo", str(root), "--format", "json"]
        samples = timed(cmd, runs=runs)  # stdout to /dev/null: compact JSON, as in a pipe
        whole[n] = statistics.median(samples)
        parts[n] = breakdown(root, runs)
        target = "  target < 1 s" if n == 10000 else ""
        print(f"{'rollout plan big --repo ' + root.name + ' --format json':60s} {fmt(samples)}"
              f"  [{size / 1e6:.2f} MB, {parts[n]['waves']:.0f} waves]{target}")

    if 10000 in sizes:
        # One correctly quoted `country: "no"` (Norway) among 10,000 clusters: YAML 1.1
        # readers take plain `no` for false, so rollout re-reads the file with positions
        # to see the quotes.
        root = repo(10000, quoted_no=True)
        cmd = [*ROLLOUT, "plan", "big", "--repo", str(root), "--format", "json"]
        samples = timed(cmd, runs=runs)
        print(f"{'rollout plan big --repo ' + root.name + ' --format json':60s} {fmt(samples)}"
              f"  x{statistics.median(samples) / whole[10000]:.2f} fleet-10000 (one quoted \"no\" label)")

    print(f"\nin-process medians, ms (n={runs}, fresh interpreter each; yaml_rs_parse is part of inventory)")
    cols = "".join(f"{n:>9}" for n in sizes)
    print(f"  {'step':16s}{cols}" + "".join(f"  {b // 1000}k/{a // 1000}k" for a, b in pairwise(sizes)))
    rows = [("imports", "imports")] + [(s, s) for s in STEPS]
    for label, key in rows:
        values = [parts[n][key] for n in sizes]
        cells = "".join(f"{v * 1000:9.1f}" for v in values)
        print(f"  {label:16s}{cells}" + "".join(f"  {ratio(b, a):>6}" for a, b in pairwise(values)))
    work = {n: sum(parts[n][k] for k in STEPS if k != "yaml_rs_parse") for n in sizes}
    print(f"  {'sum of steps':16s}" + "".join(f"{work[n] * 1000:9.1f}" for n in sizes)
          + "".join(f"  {ratio(work[b], work[a]):>6}" for a, b in pairwise(sizes)))
    print(f"  {'whole command':16s}" + "".join(f"{whole[n] * 1000:9.1f}" for n in sizes)
          + "".join(f"  {ratio(whole[b], whole[a]):>6}" for a, b in pairwise(sizes)))
    rest = {n: whole[n] - work[n] for n in sizes}
    print(f"  {'command - steps':16s}" + "".join(f"{rest[n] * 1000:9.1f}" for n in sizes)
          + "   (interpreter start, imports, CLI)")
    for a, b in pairwise(sizes):
        print(f"linearity {b}/{a} clusters (x{b / a:g}): make_plan x{parts[b]['make_plan'] / parts[a]['make_plan']:.2f}, "
              f"steps x{work[b] / work[a]:.2f}, whole command x{whole[b] / whole[a]:.2f}")
    print("after: " + wait_quiet(max_wait=0))


if __name__ == "__main__":
    main()
