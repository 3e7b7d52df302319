"""The fuzzer: seeded hypothesis over policies, inventories (Fleet files, Argo CD cluster
Secrets, Cluster API, kustomize clusters) and pinned manifests. Each input replaces one
file of a valid fleet; `plan`, `validate` and `advance --dry-run` run on it in-process
through the CLI's own top-level handler. Every outcome must be exit 0, or exit 1/2 with
every stderr line located (`file:line: ...`); a traceback or an internal error is a bug.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from torture.fleet import SEED_POLICY, git, make_seed_repo

LOCATED = re.compile(r"^(?:rollout: )?[^:\s][^:]*:\d+: \S")
COMMANDS = (("plan", "security-patch", "--format", "json"), ("validate", "security-patch"),
            ("advance", "security-patch", "--dry-run"), ("plan", "from-secrets"), ("validate", "from-capi"),
            ("validate", "from-kustomize"))

SECRETS_POLICY = SEED_POLICY.replace("name: security-patch", "name: from-secrets").replace(
    "fleet: fleet/clusters.yaml", "argocdClusterSecrets: secrets/*.yaml")
CAPI_POLICY = SEED_POLICY.replace("name: security-patch", "name: from-capi").replace(
    "fleet: fleet/clusters.yaml", "clusterAPI: capi/*.yaml")
KUSTOMIZE_POLICY = SEED_POLICY.replace("name: security-patch", "name: from-kustomize").replace(
    "fleet: fleet/clusters.yaml", "kustomizeClusters: clusters/*/kustomization.yaml")


def cluster_secret(name: str, labels: dict) -> str:
    config = base64.b64encode(json.dumps({"bearerToken": "not-a-real-token"}).encode()).decode()
    body = "".join(f"    {k}: \"{v}\"\n" for k, v in labels.items())
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-{name}\n  namespace: argocd\n  labels:\n"
            f"    argocd.argoproj.io/secret-type: cluster\n{body}type: Opaque\nstringData:\n  name: {name}\n"
            f"  server: https://{name}.k8s.example.com:6443\ndata:\n  config: {config}\n")


def capi_cluster(name: str, labels: dict) -> str:
    body = "".join(f"    {k}: \"{v}\"\n" for k, v in labels.items())
    return (f"apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\nmetadata:\n  name: {name}\n  namespace: fleet\n"
            f"  labels:\n{body}spec:\n  controlPlaneEndpoint: {{host: {name}.k8s.example.com, port: 6443}}\n")


def make_fuzz_repo(root: Path) -> Path:
    """The seed fleet, its clusters also as Secrets, CAPI Clusters and kustomize folders
    (with commonLabels), one policy per source; committed (advance --dry-run reads HEAD)."""
    from conftest import SEED_CLUSTERS

    repo = make_seed_repo(root)
    for name, labels in SEED_CLUSTERS.items():
        repo.write(f"secrets/{name}.yaml", cluster_secret(name, labels))
        repo.write(f"capi/{name}.yaml", capi_cluster(name, labels))
        path = root / f"clusters/{name}/kustomization.yaml"
        text = path.read_text().replace("resources:", "commonLabels:\n" + "".join(
            f"  {k}: \"{v}\"\n" for k, v in labels.items()) + "resources:", 1)
        path.write_text(text)
    repo.write("rollouts/from-secrets.yaml", SECRETS_POLICY)
    repo.write("rollouts/from-capi.yaml", CAPI_POLICY)
    repo.write("rollouts/from-kustomize.yaml", KUSTOMIZE_POLICY)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=f", "-c", "user.email=f@example.com", "commit", "-qm", "fuzz base")
    return root


TARGETS = ["rollouts/security-patch.yaml", "fleet/clusters.yaml", "secrets/dev-us-east.yaml", "capi/prod-eu-west.yaml",
           "clusters/staging-us-east/kustomization.yaml", "argocd/apps/dev-eu-west-platform.yaml",
           "argocd/apps/prod-us-east-platform.yaml"]

# --- strategies -----------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["", "no", "1.20", "v1.4.2", "dev", "*", "{cluster}",
                                                           "a" * 300, "\0", "\u2028", "production"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
RAW = ["[dev]", "{a: 1}", "!!float abc", "!!int xyz", "!!binary '%%%'", "!!set {a}", "!!timestamp x", "*nope",
       "&a [*a]", "'unterminated", "\"\\x\"", "|\n  block", "? complex\n: key", "- - -", "!custom tag",
       "2001-12-14", "0o17", "1e3", ".inf", "~", "=", "<<: *a", "!!python/object:os.system x"]
SPECIAL_FILES = [b"", b"   \n\t\n", b"# only a comment\n# and another\n", b"\0", b"kind: Fleet\0\n",
                 b"\xff\xfe\x00garbage", b"\xef\xbb\xbf", b"---\n---\n", b"...\n", b"a: \xc3\x28\n",
                 b"- just\n- a list\n", b"plain text", b"{", b"key: value\nkey: other\n"]


def deep(depth: int) -> dict:
    node: dict = {"leaf": "x"}
    for _ in range(depth):
        node = {"a": node}
    return node


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, prefix + (index,))


def replaced(node, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = replaced(node[head], rest, value)
    return copy


@st.composite
def mutation(draw, seed_texts: dict[str, bytes]):
    """(file, new bytes, how): a structural, textual or whole-file change of one file."""
    target = draw(st.sampled_from(TARGETS))
    original = seed_texts[target]
    kind = draw(st.sampled_from(["structure", "structure", "text", "text", "special", "truncate", "bytes"]))
    if kind == "special":
        return target, draw(st.sampled_from(SPECIAL_FILES)), kind
    if kind == "truncate":
        return target, original[: draw(st.integers(0, len(original)))], kind
    if kind == "bytes":
        at = draw(st.integers(0, len(original)))
        return target, original[:at] + draw(st.binary(min_size=1, max_size=4)) + original[at:], kind
    if kind == "text":
        lines = original.decode().splitlines(keepends=True)
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        raw = draw(st.sampled_from(RAW))
        if ":" in line and not line.strip().startswith("#"):
            key = line.split(":", 1)[0]
            lines[index] = f"{key}: {raw}\n"
        else:
            lines.insert(index, f"{line[: len(line) - len(line.lstrip())]}{raw}\n")
        return target, "".join(lines).encode(), kind
    docs = [d for d in yaml.safe_load_all(original) if d is not None]
    doc_index = draw(st.integers(0, len(docs) - 1))
    where = draw(st.sampled_from(list(paths(docs[doc_index]))))
    value = draw(st.one_of(values, st.builds(deep, st.integers(20, 200))))
    docs[doc_index] = replaced(docs[doc_index], where, value)
    text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=draw(st.booleans()))
    return target, text.encode(), kind


# --- running --------------------------------------------------------------------------


@dataclass
class Tally:
    inputs: int = 0
    runs: int = 0
    exits: Counter = field(default_factory=Counter)
    internal: list = field(default_factory=list)  # (file, how, command, text)
    unlocated: list = field(default_factory=list)

    def figures(self) -> dict:
        failed = self.exits[1] + self.exits[2]
        return {"inputs": self.inputs, "runs": self.runs, "exit codes": dict(sorted(self.exits.items())),
                "internal errors": len(self.internal), "unlocated messages": len(self.unlocated),
                "located": f"{100 * (1 - len(self.unlocated) / failed) if failed else 100:.1f} %"}


def run_cli(repo: Path, args: tuple[str, ...]) -> tuple[int, str, str]:
    """The console script's own path (rollout.cli.main), in this process."""
    from rollout.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["rollout", *args, "--repo", str(repo)]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def judge(tally: Tally, repo: Path, target: str, how: str) -> None:
    tally.inputs += 1
    for args in COMMANDS:
        code, out, err = run_cli(repo, args)
        tally.runs += 1
        tally.exits[code] += 1
        if "internal error" in err or "Traceback" in err or code not in (0, 1, 2):
            os.environ["ROLLOUT_DEBUG"] = "1"
            try:
                where = run_cli(repo, args)[2]
            finally:
                del os.environ["ROLLOUT_DEBUG"]
            tally.internal.append((target, how, args[0], "\n".join(where.strip().splitlines()[-7:])))
        elif code == 2:
            bad = [line for line in err.splitlines() if line.strip() and not LOCATED.match(line)
                   and not line.startswith("warning")]
            if bad:
                tally.unlocated.append((target, how, args[0], bad[0][:300]))


def fuzz(workdir: Path, examples: int, seed_value: int = 20261125, strict: bool = True) -> Tally:
    """Run `examples` fuzzed inputs; with `strict`, the first internal error or unlocated
    message fails (and hypothesis shrinks it)."""
    os.environ.pop("ROLLOUT_DEBUG", None)
    repo = make_fuzz_repo(workdir / "fuzz")
    seed_texts = {t: (repo / t).read_bytes() for t in TARGETS}
    tally = Tally()

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(mutation(seed_texts))
    def one(change):
        target, data, how = change
        (repo / target).write_bytes(data)
        try:
            before = (len(tally.internal), len(tally.unlocated))
            judge(tally, repo, target, how)
            if strict and (len(tally.internal), len(tally.unlocated)) != before:
                problem = (tally.internal + tally.unlocated)[-1]
                raise AssertionError(f"{problem} for input {data[:400]!r}")
        finally:
            (repo / target).write_bytes(seed_texts[target])

    one()
    return tally
