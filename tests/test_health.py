"""`rollout health`: objects from files judged in kstatus's words, Argo CD and Flux objects
through the gates' own judges, bad files as one located line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gate_fixtures import FIXTURES as GATE_FIXTURES, load as load_gate_fixture
from rollout.cli import app

KSTATUS = Path(__file__).parent / "fixtures" / "kstatus"
KEYS = {"apiVersion", "kind", "namespace", "name", "status", "reason", "message", "evidence"}


def health(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["health", *args], input=stdin, env={"COLUMNS": "200"})


def test_json_is_a_list_one_entry_per_object_in_kstatus_s_words():
    result = health("-f", str(KSTATUS / "deployment-current-ok.yaml"), "-f", str(KSTATUS / "job-failed-failed.yaml"),
                    "-o", "json")
    entries = json.loads(result.stdout)
    assert [set(e) for e in entries] == [KEYS, KEYS]
    assert [(e["kind"], e["namespace"], e["name"], e["status"], e["reason"]) for e in entries] == [
        ("Deployment", "qual", "test", "Current", ""), ("Job", "qual", "test", "Failed", "JobFailed")]
    assert entries[1]["message"] == "Job Failed. failed: 1/4" and entries[1]["evidence"] == ["Failed=True (JobFailed)"]
    assert result.exit_code == 1  # any Failed


def test_exit_codes_and_the_table():
    current = health("-f", str(KSTATUS / "statefulset-current-ok.yaml"))
    assert current.exit_code == 0 and "Current" in current.stdout and "StatefulSet qual/test" in current.stdout
    waiting = health("-f", str(KSTATUS / "statefulset-current-ok.yaml"), "-f",
                     str(KSTATUS / "statefulset-inprogress-less-ready.yaml"))
    assert waiting.exit_code == 3 and "LessReady" in waiting.stdout and "Ready: 2/4" in waiting.stdout


def test_a_folder_several_documents_a_list_and_stdin(tmp_path):
    (tmp_path / "two.yaml").write_text((KSTATUS / "pvc-current-bound.yaml").read_text() + "---\n"
                                       + (KSTATUS / "pdb-current-observed.yaml").read_text())
    listed = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n"},
         "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}]}
    (tmp_path / "list.json").write_text(json.dumps(listed))
    (tmp_path / "notes.txt").write_text("not read")
    result = health("-f", str(tmp_path), "-o", "json")
    assert [(e["kind"], e["status"]) for e in json.loads(result.stdout)] == [
        ("Pod", "Current"), ("PersistentVolumeClaim", "Current"), ("PodDisruptionBudget", "Current")]
    piped = health("-f", "-", "-o", "json", stdin=(KSTATUS / "crd-inprogress-installing.yaml").read_text())
    assert [e["reason"] for e in json.loads(piped.stdout)] == ["Installing"] and piped.exit_code == 3


def test_bad_files_are_one_located_line_each_and_exit_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a\n")
    kindless = tmp_path / "kindless.yaml"
    kindless.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n")
    in_list = tmp_path / "list.yaml"
    in_list.write_text("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n- apiVersion: v1\n  kind: 3\n")
    result = health("-f", str(broken), "-f", str(kindless), "-f", str(in_list), "-f", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{broken}:") and len(lines) == 4, result.stderr
    assert lines[1] == f"{kindless}:5: kind: missing: every Kubernetes object names it"
    assert lines[2] == f"{in_list}:7: items[1].kind: must be text"
    assert lines[3] == f"{tmp_path / 'missing.yaml'}: file not found"
    assert "Traceback" not in result.stderr


def test_usage_is_files_or_live_objects_never_both():
    both = health("-f", str(KSTATUS / "pvc-current-bound.yaml"), "--kind", "Deployment")
    neither = health()
    no_kind = health("--context", "hub")
    for result in (both, neither, no_kind):
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr


def _gate_fixture(gate: str, name: str) -> tuple[dict, Path]:
    path = GATE_FIXTURES / gate / name
    return load_gate_fixture(path)[0], path


def test_argo_cd_applications_go_through_the_argocd_gate_at_the_pin():
    header, path = _gate_fixture("argocd", "application-healthy-passed.yaml")
    at_pin = json.loads(health("-f", str(path), "--revision", header["pin"], "-o", "json").stdout)
    assert [(e["status"], e["reason"]) for e in at_pin] == [("Current", "ArgoCDGate")]
    assert at_pin[0]["message"].startswith(f"at {header['pin']}: Synced to") and "health Healthy" in at_pin[0]["evidence"]
    other = json.loads(health("-f", str(path), "--revision", "v9.9.9", "-o", "json").stdout)
    assert other[0]["status"] == "InProgress" and "not v9.9.9 yet" in other[0]["message"]
    own = json.loads(health("-f", str(path), "-o", "json").stdout)  # without --revision: its own targetRevision
    assert own[0]["status"] == "Current"


def test_flux_objects_go_through_the_flux_gate_as_its_fixtures_say():
    paths = sorted((GATE_FIXTURES / "flux").glob("*.yaml"))
    wanted = {"passed": "Current", "pending": "InProgress", "failed": "Failed"}
    for path in paths:
        header = load_gate_fixture(path)[0]
        [entry] = json.loads(health("-f", str(path), "--revision", header["pin"], "-o", "json").stdout)
        assert (entry["status"], entry["reason"]) == (wanted[header["expect"]], "FluxGate"), path.name


def test_live_objects_of_a_cluster_that_cannot_be_reached_or_is_not_in_the_kubeconfig(tmp_path):
    kubeconfig = tmp_path / "kubeconfig.json"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "down",
        "clusters": [{"name": "down", "cluster": {"server": "http://127.0.0.1:9"}}],  # discard: nothing listens
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "down", "context": {"cluster": "down", "user": "u", "namespace": "shop"}}]}))
    down = health("--kubeconfig", str(kubeconfig), "--kind", "deploy", "-o", "json")
    assert down.exit_code == 3 and down.stdout == ""
    assert down.stderr.strip() == "rollout: cannot reach the current context: MaxRetryError", down.stderr
    missing = health("--kubeconfig", str(kubeconfig), "--context", "up", "--kind", "deploy")
    assert missing.exit_code == 2 and "rollout health: context 'up' is not in the kubeconfig" in missing.stderr
    unknown = health("--kubeconfig", str(kubeconfig), "--kind", "Deploymnet")
    assert unknown.exit_code == 2 and "unknown kind 'Deploymnet'" in unknown.stderr
