"""The YAML loaders we considered (docs/yaml-loaders.md): load time on a 10,000-cluster
Fleet file, how each reads the scalars that bite GitOps users, duplicate keys, and
whether a multi-document stream can be told from one top-level list.

The candidates are not project dependencies; run this with the side venv that has them:

    python3 -m venv /tmp/yev && /tmp/yev/bin/pip install pyyaml yaml-rs rapidyaml ryaml py-yaml12
    .venv/bin/python benchmarks/make_fleet.py 10000 benchmarks/.data/fleet-10000   # or bench_plan.py
    /tmp/yev/bin/python benchmarks/bench_yaml_loaders.py [FLEET.yaml] [--runs 9]
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ryaml
import ryml
import yaml
import yaml12
import yaml_rs
from common import wait_quiet

DEFAULT = Path(__file__).resolve().parent / ".data/fleet-10000/fleet/clusters.yaml"


# --- rapidyaml: source spans ---------------------------------------------------------
class _PyBuffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.py_object), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


def _address(view) -> int:
    """Address of a buffer's first byte (ryml hands out read-only memoryviews into the
    parsed buffer: their address minus the buffer's is the byte offset in the source)."""
    b = _PyBuffer()
    ctypes.pythonapi.PyObject_GetBuffer(ctypes.py_object(view), ctypes.byref(b), 0)
    try:
        return b.buf
    finally:
        ctypes.pythonapi.PyBuffer_Release(ctypes.byref(b))


def ryml_spans(data: bytes) -> list[tuple[int, int, bool]]:
    """(byte offset, length, plain?) of every scalar value: what byte-exact editing needs.
    Parsed in place in a copy; offsets hold for scalars without escapes (ryml unescapes
    quoted scalars in the buffer, so those must be re-checked against the source)."""
    buf = bytearray(data)
    base = _address(buf)
    tree = ryml.parse_in_place(buf)
    out = []
    for node in range(tree.size()):
        if tree.has_val(node) and not tree.is_container(node):
            val = tree.val(node)
            out.append((_address(val) - base, len(val), tree.is_val_plain(node)))
    return out


# --- loaders -------------------------------------------------------------------------
LOADERS = {
    "PyYAML CSafeLoader (load)": lambda t: yaml.load(t, Loader=yaml.CSafeLoader),
    "PyYAML CSafeLoader compose (positions)": lambda t: yaml.compose(t, Loader=yaml.CSafeLoader),
    "yaml-rs loads": yaml_rs.loads,
    "ryaml loads": ryaml.loads,
    "py-yaml12 parse_yaml": yaml12.parse_yaml,
    "rapidyaml parse_in_arena (tree only; positions)": lambda t: ryml.parse_in_arena(t.encode()),
    "rapidyaml parse + spans of all scalars (Python walk)": lambda t: ryml_spans(t.encode()),
}
# the ones that build Python values, and the call each offers for several documents
VALUE_LOADERS = {
    "PyYAML (safe_load)": (lambda t: yaml.load(t, Loader=yaml.CSafeLoader),
                           lambda t: list(yaml.load_all(t, Loader=yaml.CSafeLoader))),
    "yaml-rs (loads)": (yaml_rs.loads, None),
    "ryaml (loads)": (ryaml.loads, ryaml.loads_all),
    "py-yaml12 (parse_yaml)": (yaml12.parse_yaml, lambda t: yaml12.parse_yaml(t, multi=True)),
}

SCALARS = ["no", "yes", "on", "y", "1.20", "017", "0o17", "1_000", "1e3", "2001-12-14", "1:20", "~", ".inf", '"no"']


def _median(load, text: str, runs: int, gc_paused: bool) -> tuple[float, float]:
    gc.collect()
    if gc_paused:
        gc.disable()
    try:
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            load(text)
            samples.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(samples), min(samples)


def timing(path: Path, runs: int) -> None:
    """Each loader with the cyclic GC on (a plain script) and paused (as `rollout` runs
    its loaders: rollout.manifests.document.bulk): PyYAML's many small objects trigger
    collections that rescan everything already built."""
    text = path.read_text()
    reference = yaml_rs.loads(text)
    print(f"load time, {path} ({len(text) / 1e6:.2f} MB, {len(reference['clusters'])} clusters), in-process,"
          f" median (min) of {runs}, ms")
    rows = {}
    for name, load in LOADERS.items():
        result = load(text)
        builds_values = "compose" not in name and "rapidyaml" not in name
        same = "  DIFFERENT DATA" if builds_values and result != reference else ""
        rows[name] = (_median(load, text, runs, False), _median(load, text, runs, True), same)
    base_on, base_off = rows["yaml-rs loads"][0][0], rows["yaml-rs loads"][1][0]
    print(f"  | {'loader':52s} | {'GC on':>16s} | {'GC paused':>16s} | x yaml-rs (on / paused) |")
    print("  |" + "---|" * 4)
    for name, ((on, on_min), (off, off_min), same) in rows.items():
        print(f"  | {name:52s} | {on * 1000:7.1f} ({on_min * 1000:6.1f}) | {off * 1000:7.1f} ({off_min * 1000:6.1f}) |"
              f" {on / base_on:6.2f} / {off / base_off:6.2f} |{same}")


def show(value) -> str:
    if isinstance(value, datetime.date):
        return f"date {value.isoformat()}"
    return f"{value!r}"


def scalars() -> None:
    print("\nhow `v: <scalar>` is read (value; rapidyaml gives text + style, no types)")
    located = _project("Located")
    names = list(VALUE_LOADERS) + ["rapidyaml"] + (["rollout Located (policy reader)"] if located else [])
    print("  | scalar | " + " | ".join(names) + " |")
    print("  |" + "---|" * (len(names) + 1))
    for scalar in SCALARS:
        cells = []
        for load, _ in VALUE_LOADERS.values():
            try:
                cells.append(show(load(f"v: {scalar}\n")["v"]))
            except Exception as err:  # noqa: BLE001
                cells.append(f"error ({type(err).__name__})")
        tree = ryml.parse_in_arena(f"v: {scalar}\n".encode())
        node = tree.first_child(tree.root_id())
        style = "plain" if tree.is_val_plain(node) else "quoted"
        cells.append(f"{bytes(tree.val(node)).decode()!r} {style}")
        if located:
            parsed = located.parse("v.yaml", f"v: {scalar}\n")
            info = parsed.scalar(("v",))
            cells.append(f"{show(parsed.documents[0]['v'])} {'plain' if info.plain else 'quoted'}")
        print(f"  | `{scalar}` | " + " | ".join(cells) + " |")


def duplicates() -> None:
    print("\nduplicate keys (`a: 1\\na: 2`)")
    for name, (load, _) in VALUE_LOADERS.items():
        try:
            print(f"  {name:24s} {load(chr(10).join(['a: 1', 'a: 2', '']))!r}  (silently keeps the last)")
        except Exception as err:  # noqa: BLE001
            print(f"  {name:24s} error: {str(err).splitlines()[0][:70]}")
    tree = ryml.parse_in_arena(b"a: 1\na: 2\n")
    print(f"  {'rapidyaml':24s} no error: the tree keeps both ({tree.num_children(tree.root_id())} children)")


DOC_START = re.compile(r"^---(?:[ \t]|$)", re.MULTILINE)


def several_by_markers(text: str) -> bool:
    """The first rule for yaml-rs: several documents if 2+ `---` at column 0, or 1 that
    is not the first thing in the file (blind to a bare document after `...`)."""
    markers = len(DOC_START.findall(text))
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "%"))), "")
    return markers >= 2 or (markers == 1 and not DOC_START.match(first))


def _project(name: str):
    """rollout.yamlfile.<name> from this checkout (it needs only PyYAML and yaml-rs), or None."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        from rollout import yamlfile
    except ImportError:
        return None
    return getattr(yamlfile, name, None)


def project_documents(text: str) -> str:
    """What rollout's own reader (yaml-rs + marker count) makes of it."""
    load_documents = _project("load_documents")
    if load_documents is None:
        return "(rollout not importable)"
    try:
        return f"{load_documents(Path('stream.yaml'), text)!r}"
    except _project("YamlError") as err:
        return f"error ({err.message})"


STREAMS = {
    "one list": "- a\n- b\n",
    "two docs": "a\n---\nb\n",
    "one list after ---": "---\n- a\n- b\n",
    "one list, end marker": "- a\n...\n",
    "two docs, the 2nd after ... (YAML 1.2 only)": "x: 1\n...\ny: 2\n",
    "--- inside a top-level block scalar": "--- |\nfoo\n---\n- b\n",
}


def streams() -> None:
    print("\nseveral documents vs one top-level list (single-document call / multi-document call)")
    for label, text in STREAMS.items():
        cells = []
        for name, (load, load_all) in VALUE_LOADERS.items():
            parts = []
            for fn in (load, load_all):
                if fn is None:
                    continue
                try:
                    parts.append(repr(fn(text)))
                except Exception as err:  # noqa: BLE001
                    parts.append(f"error ({str(err).splitlines()[0][:40]})")
            cells.append(f"{name.split(' (')[0]}: " + " / ".join(parts))
        tree = ryml.parse_in_arena(text.encode())
        root = tree.root_id()
        cells.append(f"rapidyaml: root is {'a stream of ' + str(tree.num_children(root)) + ' docs' if tree.is_stream(root) else 'one doc'}")
        print(f"  {label} {text!r}:")
        for cell in cells:
            print(f"      {cell}")
        print(f"      counting `---` alone says: {'several documents' if several_by_markers(text) else 'one document'}")
        print(f"      rollout.yamlfile.load_documents: {project_documents(text)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=str(DEFAULT))
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    from importlib.metadata import version

    print("versions: " + ", ".join(f"{d} {version(d)}" for d in ("PyYAML", "yaml-rs", "ryaml", "py-yaml12", "rapidyaml"))
          + f"; python {sys.version.split()[0]}; libyaml {yaml.__with_libyaml__ and yaml._yaml.get_version_string()}")
    print("before: " + wait_quiet())
    timing(Path(args.path), args.runs)
    scalars()
    duplicates()
    streams()
    print("after: " + wait_quiet(max_wait=0))


if __name__ == "__main__":
    main()
