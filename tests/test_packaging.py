"""`pipx install fleet-rollout && rollout demo` works: the sdist and wheel built by
`python -m build` carry the example fleets as package data, and the wheel, installed
into a fresh virtualenv and run outside any checkout, plays the demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("build", reason="the test extra installs `build`")


def _sources(dest: Path) -> Path:
    """The working tree's files (committed or not, minus ignored ones), copied: building
    in place would leave build/ and *.egg-info in the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


def test_the_wheel_ships_the_examples_and_the_demo_runs_from_it(tmp_path):
    source = _sources(tmp_path / "src")
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    # A fresh virtualenv with the wheel; its dependencies are borrowed from this one
    # (a .pth line) so that the check needs no network and stays fast.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PYTHON"))}
    where = subprocess.run([str(venv / "bin" / "rollout"), "--version"], cwd=elsewhere, capture_output=True,
                           text=True, env=env)
    assert where.returncode == 0 and where.stdout.startswith("rollout "), where.stderr
    located = subprocess.run([str(python), "-c", "import rollout.demo as d; print(d.EXAMPLE)"], cwd=elsewhere,
                             capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert Path(located).is_relative_to(site), located  # the package data, not the checkout
    demo = subprocess.run([str(venv / "bin" / "rollout"), "demo", "--no-fault", "--dir", str(tmp_path / "demo")],
                          cwd=elsewhere, capture_output=True, text=True, env=env, timeout=120)
    assert demo.returncode == 0 and "rollout complete." in demo.stdout, demo.stdout[-2000:] + demo.stderr[-2000:]
