"""The YAML loaders we considered: speed on a 10,000-cluster inventory and how each
reads the scalars that bite GitOps users. Needs the candidates installed beside the
project (they are not dependencies):

    python3 -m venv /tmp/yev && /tmp/yev/bin/pip install pyyaml yaml-rs rapidyaml ryaml py-yaml12
    /tmp/yev/bin/python benchmarks/bench_yaml_loaders.py benchmarks/.data/fleet-10000/fleet/clusters.yaml
"""

from __future__ import annotations

import statistics
import sys
import time


def loaders():
    import yaml

    out = {
        "PyYAML CSafeLoader (load)": lambda t: yaml.load(t, Loader=yaml.CSafeLoader),
        "PyYAML CSafeLoader (compose: positions)": lambda t: yaml.compose(t, Loader=yaml.CSafeLoader),
        "PyYAML C events (positions, no resolver)": lambda t: list(yaml.parse(t, Loader=yaml.CSafeLoader)),
    }
    try:
        import yaml_rs

        out["yaml-rs (Rust)"] = yaml_rs.loads
    except ImportError:
        pass
    try:
        import ryaml

        out["ryaml (Rust)"] = ryaml.loads
    except ImportError:
        pass
    try:
        import yaml12

        out["py-yaml12 (Rust)"] = lambda t: yaml12.parse_yaml(t, multi=True)
    except ImportError:
        pass
    try:
        import ryml

        out["rapidyaml (C++, tree only)"] = lambda t: ryml.parse_in_arena(t.encode())
    except ImportError:
        pass
    return out


SCALARS = ["no", "yes", "on", "y", "1.20", "017", "0o17", "1_000", "1e3", "2001-12-14", "1:20", "~", ".inf", '"no"']


def main(path: str) -> None:
    text = open(path).read()
    print(f"{path}: {len(text) / 1e6:.2f} MB")
    for name, load in loaders().items():
        samples = []
        for _ in range(7):
            start = time.perf_counter()
            load(text)
            samples.append(time.perf_counter() - start)
        print(f"  {name:45s} median {statistics.median(samples) * 1000:8.1f} ms")
    print("\nhow each reads `v: <scalar>` (value and type):")
    for name, load in loaders().items():
        if "compose" in name or "events" in name or "rapidyaml" in name:
            continue
        row = []
        for scalar in SCALARS:
            try:
                value = load(f"v: {scalar}\n")
                value = value[0] if isinstance(value, list) else value
                row.append(f"{scalar}={value['v']!r}")
            except Exception as err:  # noqa: BLE001
                row.append(f"{scalar}=error({type(err).__name__})")
        print(f"  {name}: " + ", ".join(row))
    print("\nduplicate keys (`a: 1\\na: 2`):")
    for name, load in loaders().items():
        if "compose" in name or "events" in name or "rapidyaml" in name:
            continue
        try:
            print(f"  {name}: {load('a: 1' + chr(10) + 'a: 2' + chr(10))!r}")
        except Exception as err:  # noqa: BLE001
            print(f"  {name}: error ({str(err).splitlines()[0][:60]})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/.data/fleet-10000/fleet/clusters.yaml")
