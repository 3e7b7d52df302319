"""Pin presets and gates are registered by name and imported when a policy names them
(waves/registry.py): every module is registered under its model's own name, the schema
and the messages still see them all, and `rollout plan` loads only what it uses."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

import waves.gates
import waves.pins
from waves.gates import GATES, GateSpec
from waves.pins import PRESETS, PinBase, PinSpec

ROOT = Path(__file__).resolve().parent.parent


def _models_in(package, base) -> dict[str, type]:
    """module name -> the registrable model it defines (a PinBase with a `preset` literal;
    a gate: a model of one field named after the gate)."""
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__):
                continue
            if base is PinBase and "preset" in value.model_fields:
                found[module.__name__] = value
            if base is BaseModel and value.__name__.endswith("Gate") and len(value.model_fields) == 1:
                found[module.__name__] = value
    return found


def test_every_preset_module_is_registered_under_its_preset_literal():
    defined = _models_in(waves.pins, PinBase)
    assert {model for model in defined.values()} == set(PRESETS.values())
    for name, model in PRESETS.items():
        assert model.model_fields["preset"].annotation.__args__ == (name,)


def test_every_gate_module_is_registered_under_its_key():
    defined = _models_in(waves.gates, BaseModel)
    assert set(defined.values()) == set(GATES.values())
    for name, model in GATES.items():
        assert list(model.model_fields) == [name]


def test_the_schema_lists_every_preset_and_gate():
    out = subprocess.run([sys.executable, "-m", "rollout", "schema"], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    schema = json.loads(out)
    text = json.dumps(schema)
    for name in PRESETS:
        assert f'"const": "{name}"' in text or f'"enum": ["{name}"]' in text, name
    gate_keys = {key for d in schema["$defs"].values() for key in d.get("properties", {})
                 if d.get("title", "").endswith("Gate")}
    assert gate_keys == set(GATES)


@pytest.mark.parametrize("value, loc, kind", [
    ({"preset": "argo-application", "files": "a.yaml"}, (), "union_tag_invalid"),
    ({"files": "a.yaml"}, (), "union_tag_not_found"),
    ({"preset": "kustomize-image", "files": "a.yaml", "image": 3}, ("kustomize-image", "image"), "string_type"),
    ({"preset": "yaml-field", "files": "a.yaml", "field": "a", "nope": 1}, ("yaml-field", "nope"), "extra_forbidden"),
])
def test_pin_errors_are_the_tagged_unions(value, loc, kind):
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(PinSpec).validate_python(value)
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"]) == (kind, loc)
    if kind == "union_tag_invalid":
        assert error["ctx"]["expected_tags"] == ", ".join(f"'{name}'" for name in PRESETS)


def test_gate_errors_and_instances():
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(GateSpec).validate_python({"argo": {}})
    assert caught.value.errors()[0]["type"] == "unknown_gate"
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(GateSpec).validate_python({"argocd": {"settle": "soon"}})
    assert caught.value.errors()[0]["loc"][:3] == ("argocd", "argocd", "settle")
    gate = TypeAdapter(GateSpec).validate_python({"flux": {"name": "podinfo"}})
    assert type(gate) is GATES["flux"]
    assert TypeAdapter(GateSpec).validate_python(gate) is gate  # a model passes as itself, as in the union


def test_plan_imports_only_the_presets_and_gates_its_policy_names():
    """examples/fleet-config: an argocd-application pin and an argocd gate."""
    code = ("import sys\nfrom rollout.cli import main\n"
            "sys.argv = ['rollout', 'plan', 'security-patch', '--repo', 'examples/fleet-config', '--format', 'json']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "print('\\n'.join(sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["targets"]
    loaded = set(done.stderr.split())
    assert {"waves.pins.argocd_application", "waves.gates.argocd"} <= loaded
    registered = PRESETS.modules() | GATES.modules()
    assert loaded & registered == {"waves.pins.argocd_application", "waves.gates.argocd"}
    assert "waves.gates.kstatus" not in loaded
