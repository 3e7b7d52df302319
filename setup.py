"""Everything is declared in pyproject.toml; this only ships examples/ inside the wheel
(as rollout/examples), so `pipx install fleet-rollout && rollout demo` works without a
checkout. An editable install reads examples/ from the checkout instead."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithExamples(build_py):
    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "rollout" / "examples"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(__file__).parent / "examples", target)


setup(cmdclass={"build_py": BuildWithExamples})
