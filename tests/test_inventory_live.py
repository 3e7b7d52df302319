"""Live inventory sources (docs/inventory.md): upstream objects read field for field (the
fixtures in tests/fixtures/inventory), one paginated LIST each through the real kubernetes
client against the simulator's hub, and a hub that cannot be read is exit 2 before
anything is written, naming the context and the source."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from conftest import ROLLOUT
from waves import availability
from waves.gates.verdict import parse_time
from waves.policy import InventorySource
from rollout.inventory import LIVE_READERS, load_inventory
from rollout.inventory.hub import KubeLister, Listed, fetch

pytest.importorskip("kubernetes")
from test_simulator import GIT_ENV, Running, git, published  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "inventory"
SOURCES = ("clusterProfiles", "managedClusters", "clusterAPI", "fleetClusters", "argocdClusterSecrets")
HUB_NAMESPACES = {"clusterProfiles": "fleet-system", "clusterAPI": "clusters", "fleetClusters": "fleet-default",
                  "argocdClusterSecrets": "argocd"}
FIXTURE_TOKEN = "fixture-bearer-token-do-not-print"


def header(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"# (\w+): (.*)", line)
        if not match:
            break
        out.setdefault(match.group(1), match.group(2).strip())
    return out


def read_one(source: str, obj: dict, now: float | None = None):
    listed = Listed(source, "hub", obj.get("metadata", {}).get("namespace"), None, items=[obj])
    if source == "fleetClusters":
        from rollout.inventory import rancher_fleet

        return rancher_fleet.read_live(listed, 15 * 60, now)
    return LIVE_READERS[source](listed)


FIXTURE_FILES = sorted(FIXTURES.glob("*/*.yaml"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FIXTURE_FILES])
def test_each_upstream_object_reads_as_its_header_says(path):
    fields = header(path)
    assert fields.get("upstream"), "each fixture names the upstream repo and path its shape follows"
    assert path.stem.endswith(("-up", "-down")) and fields["expect"].split(":")[0] == path.stem.rsplit("-", 1)[1]
    result = read_one(path.parent.name, yaml.safe_load(path.read_text()), parse_time(fields.get("now")))
    assert result.problems == []
    (entry,) = result.entries
    assert entry.name == fields["name"]
    assert entry.server == (None if fields["server"] == "-" else fields["server"])
    assert entry.labels == json.loads(fields["labels"])
    if fields["expect"] == "up":
        assert entry.down is None
    else:
        assert entry.down is not None and fields["expect"].split(": ", 1)[1] in entry.down, entry.down
    assert FIXTURE_TOKEN not in repr(entry) + repr(result.problems)


def test_fleet_s_api_server_url_names_the_manager_and_is_never_a_cluster_s_server():
    """status.apiServerURL is the URL each agent uses to reach Fleet's manager: taking it
    would give every cluster one server, the hub's."""
    objs = [yaml.safe_load(p.read_text()) for p in sorted((FIXTURES / "fleetClusters").glob("*.yaml"))]
    assert len({o["status"]["apiServerURL"] for o in objs}) == 1
    listed = Listed("fleetClusters", "hub", "fleet-default", None, items=objs)
    clusters, problems = load_inventory(Path("."), [("fleetClusters", _hub_spec("fleetClusters"))],
                                        hub=_Fixed(listed))
    assert problems == [] and [c.server for c in clusters] == [None, None, None]


conditions = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(["ControlPlaneHealthy", "Joined", "ManagedClusterConditionAvailable", "Ready"]),
    "status": st.sampled_from(["True", "False", "Unknown", "", "true"])}), max_size=4)


@given(conditions)
def test_a_cluster_is_up_only_when_its_own_condition_says_exactly_true(found):
    """Nothing guessed: False, Unknown, absent, or a status not spelled True is down."""
    def says(kind):
        first = next((c for c in found if c["type"] == kind), None)
        return first is not None and first["status"] == "True"

    status = {"conditions": found}
    assert (availability.cluster_profile({"status": status}) is None) == says("ControlPlaneHealthy")
    assert (availability.managed_cluster({"status": status}) is None) == says("ManagedClusterConditionAvailable")
    capi = {"apiVersion": "cluster.x-k8s.io/v1beta1", "status": {**status, "phase": "Provisioned"}}
    assert (availability.cluster_api(capi) is None) == says("Ready")
    assert availability.cluster_api({**capi, "status": {**status, "phase": "Provisioning"}}) is not None


@given(st.floats(min_value=0, max_value=10 * 3600), st.floats(min_value=60, max_value=3600))
def test_a_fleet_agent_is_offline_after_three_check_in_intervals(ago, interval):
    now = 1_754_827_200.0
    seen = {"status": {"agent": {"lastSeen": _rfc3339(now - ago)}}}
    assert (availability.fleet_cluster(seen, now, interval) is None) == (int(ago) <= 3 * interval)


_DROP = object()
_PATHS = [("metadata",), ("metadata", "name"), ("metadata", "labels"), ("metadata", "deletionTimestamp"),
          ("status",), ("status", "conditions"), ("status", "conditions", 0), ("status", "conditions", 0, "type"),
          ("status", "conditions", 0, "status"), ("status", "accessProviders"), ("status", "accessProviders", 0),
          ("status", "accessProviders", 0, "name"), ("status", "accessProviders", 0, "cluster"),
          ("status", "accessProviders", 0, "cluster", "server"), ("status", "credentialProviders"),
          ("status", "properties"), ("status", "properties", 0), ("status", "properties", 0, "name"),
          ("status", "properties", 0, "value")]


def _has(node, step) -> bool:
    if isinstance(node, dict):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and step < len(node)


def _mutated(obj: dict, changes: list) -> dict:
    obj = json.loads(json.dumps(obj))
    for path, value in changes:
        node = obj
        for step in path[:-1]:
            node = node[step] if _has(node, step) else None
        last = path[-1]
        if isinstance(node, dict) and isinstance(last, str):
            if value is _DROP:
                node.pop(last, None)
            else:
                node[last] = value
        elif _has(node, last) and isinstance(node, list) and value is not _DROP:
            node[last] = value
    return obj


_ODD = [None, 0, 2, [], ["a"], {}, "", " ", "False", "ControlPlaneHealthy", "bad key!", "x" * 64, "a/b", "AWS",
        "https://A:6443/", [{"name": "p", "cluster": {"server": "https://b"}}], _DROP]


def _usual(name: str = "c1", providers: int = 1, credential: bool = False) -> dict:
    provider = {"name": "p", "cluster": {"server": "https://a:6443"}}
    status = {"conditions": [{"type": "Joined", "status": "True"},
                             {"type": "ControlPlaneHealthy", "status": "True", "reason": "Healthy"}],
              "accessProviders": [provider] * providers,
              "properties": [{"name": "platform", "value": "AWS"}, {"name": "env", "value": "prod"},
                             {"name": "bad key!", "value": "x"}, {"name": "region", "value": "x" * 64}]}
    if credential:
        status["credentialProviders"] = [{"name": "q", "cluster": {"server": "https://b"}}]
    return {"kind": "ClusterProfile", "metadata": {"name": name, "namespace": "ns", "labels": {"env": "dev"}},
            "status": status}


def _profiles():
    """ClusterProfiles of the usual shape, up to three fields changed, dropped or of another type."""
    base = st.sampled_from([_usual(), _usual(providers=2), _usual(credential=True), _usual(name="")])
    return st.builds(_mutated, base, st.lists(st.tuples(st.sampled_from(_PATHS), st.sampled_from(_ODD)), max_size=3))


def _read_both(objs: list) -> None:
    """The fast ClusterProfile reader gives, for each object, the entry (labels in order)
    and problems the general reader gives."""
    from rollout.inventory import cluster_profiles
    from rollout.inventory.entries import SourceResult

    listed, before = Listed("clusterProfiles", "hub", "fleet-system", None, items=objs), json.dumps(objs)
    general = SourceResult()
    for obj in objs:
        made = cluster_profiles.read_one(listed, obj, general)
        if made is not None:
            general.entries.append(made)
    got = cluster_profiles.read_live(listed)
    assert got.entries == general.entries and got.problems == general.problems
    assert [list(e.labels.items()) for e in got.entries] == [list(e.labels.items()) for e in general.entries]
    assert json.dumps(objs) == before  # what the hub listed is left as it was (the digest, the records)


def test_the_fast_clusterprofile_reader_gives_what_the_general_one_gives_for_each_change_of_a_field():
    """rollout/inventory/cluster_profiles.py reads the usual shape in one pass and leaves
    every other object to the general reader: every fixture, and the usual shape with each
    field in turn changed, dropped or of another type."""
    objs = [yaml.safe_load(p.read_text()) for p in sorted((FIXTURES / "clusterProfiles").glob("*.yaml"))]
    for base in (_usual(), _usual(providers=2), _usual(credential=True), _usual(name="")):
        objs += [_mutated(base, [(path, value)]) for path in _PATHS for value in _ODD]
    _read_both(objs)


@given(st.lists(_profiles(), max_size=8))
def test_the_fast_clusterprofile_reader_gives_what_the_general_one_gives(objs):
    """The same with several changes at once."""
    _read_both(objs)


def test_a_provider_whose_name_is_no_name_is_a_provider_of_its_own():
    """A name that is a list (JSON allows it) is no traceback: the provider counts alone."""
    obj = yaml.safe_load((FIXTURES / "clusterProfiles/ocm-mirrored-healthy-up.yaml").read_text())
    (provider,) = obj["status"]["accessProviders"]
    obj["status"]["accessProviders"] = [{**provider, "name": ["a"]}, {**provider, "name": ["a"],
                                                                     "cluster": {"server": "https://other:6443"}}]
    (entry,) = read_one("clusterProfiles", obj).entries
    assert entry.server is None  # two servers: none taken
    obj["status"]["accessProviders"] = [{**provider, "name": ["a"]}]
    assert read_one("clusterProfiles", obj).entries[0].server == provider["cluster"]["server"]


def _rfc3339(when: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(when), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Fixed:
    """A lister that answers with what a test listed (for the pure merge rules)."""

    def __init__(self, listed: Listed):
        self.listed = listed

    def check_context(self, context, who):
        return None

    def page(self, kind, version, context, namespace, selector, token):
        return {"items": self.listed.items, "metadata": {}}


def _hub_spec(source: str, context: str = "hub", **extra):
    namespace = HUB_NAMESPACES.get(source)
    return InventorySource(**{source: {"context": context, **({"namespace": namespace} if namespace else {}),
                                       **extra}}).hub


# --- through the real client, over HTTP, against the simulator's hub ---------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The example fleet, its inventory served by the simulator's hub (--hub)."""
    tmp = tmp_path_factory.mktemp("hub")
    remote, work = published(tmp, "fleet-config", lambda text: text.replace(
        "    - fleet: fleet/clusters.yaml   # or argocdClusterSecrets / clusterAPI / kustomizeClusters",
        "    - clusterProfiles: {context: hub, namespace: fleet-system}"))
    fleet = tmp / "hub-fleet.yaml"
    fleet.write_text((work / "fleet/clusters.yaml").read_text())
    sim = Running(remote, tmp / "kubeconfig", "--hub", str(fleet))
    yield sim, remote, work, tmp
    sim.stop()


def lister(sim, page_size: int = 500) -> KubeLister:
    from rollout.observers.kube import Kube

    return KubeLister(Kube(str(sim.kubeconfig)), page_size)


def test_every_live_source_lists_the_hub_s_clusters_page_by_page(hub):
    sim, _, work, _ = hub
    fleet = {c["name"]: c for c in yaml.safe_load((work / "fleet/clusters.yaml").read_text())["clusters"]}
    for source in SOURCES:
        got = fetch(lister(sim, page_size=4), source, _hub_spec(source))
        assert got.error is None, got.error
        assert got.pages == 2, source  # 6 clusters, 4 a page: `continue` followed to the end
        clusters, problems = load_inventory(work, [(source, _hub_spec(source))], hub=lister(sim, page_size=4))
        assert problems == [], source
        assert {c.name for c in clusters} == set(fleet), source
        for cluster in clusters:
            assert cluster.labels.items() >= {k: str(v) for k, v in fleet[cluster.name]["labels"].items()}.items()
            assert cluster.down is None and cluster.sources == (got.origin,)
            if source != "fleetClusters":  # Fleet's apiServerURL is the manager's
                assert cluster.server == fleet[cluster.name]["server"], source
    capi = fetch(lister(sim), "clusterAPI", _hub_spec("clusterAPI"))
    assert capi.version == "v1beta2" and capi.items[0]["apiVersion"] == "cluster.x-k8s.io/v1beta2"


def test_the_selector_goes_to_the_api_server_and_a_down_cluster_says_why(hub):
    sim, _, work, _ = hub
    spec = _hub_spec("managedClusters", selector={"matchLabels": {"environment": "production"}})
    assert spec.label_selector() == "environment=production"
    _knob(sim, {"down": {"prod-us-east": "network partition"}})
    try:
        clusters, problems = load_inventory(work, [("managedClusters", spec)], hub=lister(sim))
    finally:
        _knob(sim, {"down": {}})
    assert problems == [] and [c.name for c in clusters] == ["prod-eu-west", "prod-us-east"]
    assert clusters[0].down is None
    assert clusters[1].down.startswith("ManagedClusterConditionAvailable is Unknown (ManagedClusterLeaseUpdateStopped")


def test_a_live_source_and_a_file_that_disagree_are_refused_naming_both(hub):
    sim, _, work, tmp = hub
    repo = tmp / "conflict"
    repo.mkdir(exist_ok=True)
    text = (work / "fleet/clusters.yaml").read_text().replace("region: us-east", "region: us-west", 1)
    (repo / "fleet.yaml").write_text(text)
    _, problems = load_inventory(repo, [("fleet", "fleet.yaml"), ("clusterAPI", _hub_spec("clusterAPI"))],
                                 hub=lister(sim))
    messages = [p.message for p in problems]
    assert len(messages) == 1 and "label region=us-east here but region=us-west in fleet.yaml" in messages[0]
    assert problems[0].source.startswith("Cluster clusters/dev-us-east in clusterAPI (context hub, namespace clusters)")


def _knob(sim, body: dict) -> None:
    import urllib.request

    url = sim.ready.split()[1] + "/_sim/hub"
    urllib.request.urlopen(urllib.request.Request(url, json.dumps(body).encode(), method="POST")).read()


def _cli(work: Path, *args: str, kubeconfig: Path) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([*ROLLOUT, *args, "--kubeconfig", str(kubeconfig)], cwd=work, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **GIT_ENV})


def _kubeconfig(sim, tmp: Path, name: str, edit) -> Path:
    config = json.loads(sim.kubeconfig.read_text())
    edit(config)
    path = tmp / name
    path.write_text(json.dumps(config))
    return path


def test_before_a_rollout_a_hub_that_cannot_be_read_is_exit_2_naming_context_and_source(hub):
    sim, remote, work, tmp = hub  # with the simulator's own kubeconfig the plan works: the test below

    def token(config):
        config["users"][0]["user"]["token"] = "expired"

    def dead(config):
        next(c for c in config["clusters"] if c["name"] == "hub")["cluster"]["server"] = "http://127.0.0.1:9/hub"

    def crd_missing(config):  # a context whose API server does not serve ClusterProfiles (no CRD): 404
        next(c for c in config["contexts"] if c["name"] == "hub")["context"]["cluster"] = "dev-eu-west"

    cases = [(token, "the API server refused our credentials (HTTP 401 Unauthorized)"),
             (dead, "cannot reach the hub"),
             (crd_missing, "the API server does not serve it (HTTP 404): is the CRD installed?")]
    before = git(remote, "rev-parse", "main")
    for edit, words in cases:
        kubeconfig = _kubeconfig(sim, tmp, f"{edit.__name__}.json", edit)
        commands = [("plan", "security-patch"), ("advance", "security-patch")]  # validate reads as plan does
        for args in commands if edit is token else commands[:1]:
            result = _cli(work, *args, kubeconfig=kubeconfig)
            assert result.returncode == 2, (args, result.stdout, result.stderr)
            (line,) = result.stderr.strip().splitlines()
            assert line.startswith("rollouts/security-patch.yaml:9: spec.inventory[0].clusterProfiles: "
                                   "clusterProfiles (context hub, namespace fleet-system): "), line
            assert words in line and "Traceback" not in result.stderr
    assert git(remote, "rev-parse", "main") == before and git(work, "status", "--porcelain") == ""
    missing = _kubeconfig(sim, tmp, "renamed.json", lambda c: c["contexts"][0].update(name="other"))
    result = _cli(work, "plan", "security-patch", kubeconfig=missing)
    assert result.returncode == 2 and "inventory clusterProfiles: context 'hub' is not in the kubeconfig" in result.stderr


def test_the_plan_marks_unavailable_clusters_per_wave_and_keeps_them_in_their_waves(hub):
    sim, _, work, _ = hub
    _knob(sim, {"down": {"prod-us-east": "maintenance", "dev-eu-west": "maintenance"}})
    try:
        plan = _cli(work, "plan", "security-patch", "-f", "json", kubeconfig=sim.kubeconfig)
        table = _cli(work, "plan", "security-patch", kubeconfig=sim.kubeconfig)
    finally:
        _knob(sim, {"down": {}})
    waves = {w["name"]: w for w in json.loads(plan.stdout)["waves"]}
    assert len(waves) == 5 and plan.returncode == 0
    assert waves["canary"]["clusters"] == ["dev-eu-west", "dev-us-east"]  # availability never moves a cluster
    assert waves["canary"]["unavailable"] == [
        {"cluster": "dev-eu-west", "reason": "ControlPlaneHealthy is False (Unhealthy: maintenance)"}]
    assert [u["cluster"] for u in waves["production/2"]["unavailable"]] == ["prod-us-east"]
    assert all(w["unavailable"] == [] for name, w in waves.items() if name not in ("canary", "production/2"))
    assert "dev-eu-west (down)" in table.stdout
    assert "unavailable: 2 clusters (spec.unavailable: skip: left out of their waves' advances, each pinned once " \
           "back): dev-eu-west (ControlPlaneHealthy is False (Unhealthy: maintenance)); prod-us-east" in \
           " ".join(table.stdout.split())


def test_a_continue_token_that_expired_mid_list_lists_again_from_the_start_once(hub):
    """410 Expired for a `continue` token (the API server compacted what the LIST began
    from): the whole LIST again from the start, once; expired again, the hub cannot be
    read, saying so (exit 2 before a rollout starts)."""
    sim = hub[0]
    url = sim.ready.split()[1] + "/_sim/hub"

    def expire(n: int) -> None:
        request = urllib.request.Request(url, json.dumps({"expire": n}).encode(), method="POST")
        urllib.request.urlopen(request).read()

    try:
        expire(1)
        got = fetch(lister(sim, page_size=4), "clusterProfiles", _hub_spec("clusterProfiles"))
        assert got.error is None and got.pages == 2 and len(got.items) == 6
        assert len({i["metadata"]["name"] for i in got.items}) == 6
        expire(2)
        got = fetch(lister(sim, page_size=4), "clusterProfiles", _hub_spec("clusterProfiles"))
        assert got.items is None and got.error.startswith("clusterProfiles (context hub, namespace fleet-system): ")
        assert "HTTP 410 Gone: The provided continue parameter is too old" in got.error, got.error
    finally:
        expire(0)


def test_a_live_list_loads_none_of_the_client_s_typed_api_modules(hub):
    """Each page is a GET through the context's ApiClient (rollout/observers/kube.py,
    `get_raw`): CustomObjectsApi and CoreV1Api, ~25 ms or more each to import, stay unloaded
    (docs/performance.md); the client's older generation (29) loads every API module with
    the package, so none beyond what `import kubernetes` loads."""
    import sys

    code = f"""
import sys
import kubernetes
apis = lambda: sorted(m for m in sys.modules if m.startswith("kubernetes.client.api."))
before = apis()
from rollout.inventory.hub import KubeLister, fetch
from rollout.observers.kube import Kube
from waves.policy import InventorySource
for source, namespace in (("clusterProfiles", "fleet-system"), ("argocdClusterSecrets", "argocd")):
    spec = InventorySource(**{{source: {{"context": "hub", "namespace": namespace}}}}).hub
    got = fetch(KubeLister(Kube({str(hub[0].kubeconfig)!r})), source, spec)
    assert got.error is None and len(got.items) == 6, got.error
print(sorted(set(apis()) - set(before)))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"]


@pytest.mark.parametrize("body", [b"<html>Sign in to the proxy</html>", b"", b"[]", b'{"items": [', b"\xff\xfe"])
def test_an_answer_that_is_no_kubernetes_list_is_said_so_naming_the_source(body):
    """Whatever answered (a proxy's login page, a truncated body) is no API server: one line
    naming the source, no traceback, whatever decodes the page."""
    class Answers:
        def check_context(self, context, who):
            return None

        def raw(self, kind, version, context, namespace, selector, token):
            return body

    got = fetch(Answers(), "clusterProfiles", _hub_spec("clusterProfiles"))
    assert got.items is None and got.error == ("clusterProfiles (context hub, namespace fleet-system): "
                                               "clusterprofiles.multicluster.x-k8s.io/v1alpha1: "
                                               "the answer is not a Kubernetes list")


def test_the_pages_carry_what_an_exec_plugin_gives_and_a_wrong_one_is_refused(hub, tmp_path):
    """The pages go out through the client's ApiClient with the credentials its loader
    made: an exec plugin's token (as kubelogin or aws-iam-authenticator print it) is sent;
    one the hub does not take is refused, naming the source."""
    import sys
    from rollout.observers.kube import Kube

    sim = hub[0]
    config = json.loads(Path(sim.kubeconfig).read_text())
    token = next(u["user"]["token"] for u in config["users"] if u["name"] == "simulator")
    for printed, refused in ((token, False), ("not-" + token, True)):
        plugin = tmp_path / "plugin.py"
        plugin.write_text("import json; print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
                          f"'kind': 'ExecCredential', 'status': {{'token': {printed!r}}}}}))\n")
        users = [{**u, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                          "command": sys.executable, "args": [str(plugin)],
                                          "interactiveMode": "Never"}}} for u in config["users"]]
        path = tmp_path / "kubeconfig"
        path.write_text(json.dumps({**config, "users": users}))
        got = fetch(KubeLister(Kube(str(path)), 4), "clusterProfiles", _hub_spec("clusterProfiles"))
        assert got.refused == refused and (got.error is None) != refused, got.error
        assert refused or (got.pages == 2 and len(got.items) == 6)
        assert not refused or "refused our credentials (HTTP 401" in got.error


def test_the_next_page_asked_for_ahead_is_dropped_when_the_parsed_token_says_otherwise():
    """The next page is fetched while one is parsed, on a token read off the raw bytes; a
    label named `continue` can mislead that read: the parsed token decides, and the list
    is whole, in order, once."""
    names = [f"c{i}" for i in range(7)]

    class Pages:
        def __init__(self):
            self.asked = []

        def check_context(self, context, who):
            return None

        def raw(self, kind, version, context, namespace, selector, token):
            self.asked.append(token)
            start = int(token[1:]) if token and token.startswith("t") else 0
            if token and not token.startswith("t"):
                from kubernetes.client.exceptions import ApiException

                raise ApiException(status=400, reason="Bad Request")  # the misleading guess
            chunk = names[start:start + 3]
            items = [{"metadata": {"name": n, "labels": {"continue": "bogus"} if i == 0 else {},
                                   "annotations": {"pad": "x" * 1500}}} for i, n in enumerate(chunk)]
            meta = {"continue": f"t{start + 3}"} if start + 3 < len(names) else {}
            return json.dumps({"apiVersion": "v1", "items": items, "kind": "List", "metadata": meta}).encode()

    pages = Pages()
    got = fetch(pages, "clusterProfiles", _hub_spec("clusterProfiles"))
    assert got.error is None and [i["metadata"]["name"] for i in got.items] == names and got.pages == 3
    assert [t for t in pages.asked if t is None or t.startswith("t")] == [None, "t3", "t6"]
    assert "bogus" in pages.asked  # the guess was made, and dropped


def _inventory(work: Path, *args: str, kubeconfig: Path):
    """`rollout inventory` in-process (it only reads): typer's Result."""
    from typer.testing import CliRunner

    from rollout.cli import app

    return CliRunner().invoke(app, ["inventory", *args, "--repo", str(work), "--kubeconfig", str(kubeconfig)],
                              env={"COLUMNS": "200"})


def test_rollout_inventory_takes_live_sources_as_a_policy_writes_them(hub):
    """`--source KIND={context, namespace, selector}` beside `KIND=PATH`: listed through
    --kubeconfig, checked by the policy's own model, a hub that cannot be read exit 2 naming
    the option, the context and the source (and, from a policy, its line), as plan does."""
    sim, _, work, tmp = hub
    profiles = "clusterProfiles={context: hub, namespace: fleet-system}"
    listed = _inventory(work, "--source", profiles, "-f", "json", kubeconfig=sim.kubeconfig)
    assert listed.exit_code == 0, listed.stderr
    clusters = json.loads(listed.stdout)
    assert len(clusters) == 6 and {tuple(c["sources"]) for c in clusters} == {
        ("hub:clusterProfiles@hub/fleet-system",)}
    chosen = _inventory(work, "--source", "fleet=fleet/clusters.yaml", "--source",
                  "managedClusters={context: hub, selector: {matchLabels: {environment: production}}}", "-f", "json",
                  kubeconfig=sim.kubeconfig)  # a file and a hub, merged: one cluster named by both
    assert chosen.exit_code == 0, chosen.stderr
    both = [c for c in json.loads(chosen.stdout) if len(c["sources"]) == 2]
    assert sorted(c["name"] for c in both) == ["prod-eu-west", "prod-us-east"]
    dead = _kubeconfig(sim, tmp, "dead-inventory.json", lambda config: next(
        c for c in config["clusters"] if c["name"] == "hub")["cluster"].update(server="http://127.0.0.1:9/hub"))
    down = _inventory(work, "--source", profiles, kubeconfig=dead)
    (line,) = down.stderr.strip().splitlines()
    assert down.exit_code == 2 and line.startswith(f"--source {profiles!r}: clusterProfiles (context hub, namespace "
                                                    "fleet-system): ") and "cannot reach the hub" in line
    policy = _inventory(work, "--policy", "security-patch", kubeconfig=dead)
    assert policy.exit_code == 2 and policy.stderr.startswith(
        f"{work}/rollouts/security-patch.yaml:9: spec.inventory[0].clusterProfiles: clusterProfiles (context hub, ")
    for option, words in {"clusterProfiles={context: hub}": "clusterProfiles: namespace is required",
                         "clusterProfiles={context: nowhere, namespace: n}": "context 'nowhere' is not in the kubeconfig"
                         }.items():
        result = _inventory(work, "--source", option, kubeconfig=sim.kubeconfig)
        assert result.exit_code == 2 and words in result.stderr, (option, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("option, words", [
    ("clusterProfiles=fleet/clusters.yaml", "clusterProfiles is listed on a hub: use clusterProfiles={context"),
    ("managedClusters={context: hub, namespace: x}", "managedClusters: these objects are cluster-scoped"),
    ("fleetClusters={context: hub, namespace: f, color: red}", "fleetClusters.color: unknown field"),
    ("clusterAPI={context: hub", "not a YAML mapping"),
    ("clusterAPI={context: hub, namespace: c, selector: {matchLabels: {a: [1]}}}", "clusterAPI.selector.matchLabels.a"),
    ("helm=x", "use KIND=PATH (KIND one of fleet,"),
])
def test_a_source_option_that_is_no_source_is_one_line_naming_it(option, words):
    from rollout.inventory_command import source_option
    from rollout.workspace import UsageError

    with pytest.raises(UsageError) as err:
        source_option(option)
    assert str(err.value).startswith(f"--source {option!r}: ") and words in str(err.value)
    assert "\n" not in str(err.value)
