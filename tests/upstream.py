"""The conformance suites: tests that read reference material kept beside the checkout in
`../shared/` (never copied into this repository): the upstream GitOps manifests the pin
editor and the targeting checks are proven on, and apimachinery's own selector test
tables. A fresh clone has no `../shared`: those tests skip, each with the reason below,
and the run ends with one line per suite saying whether it ran (conftest.py,
pytest_terminal_summary), so a skip is never silent. CI runs them: it has `../shared`.

Every test that needs one of them asks here (`corpus()`, `selector_cases()`); the skip is
raised from this one place. Nothing else in the suite may read outside the repository."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@dataclass(frozen=True)
class Suite:
    key: str
    what: str
    path: Path

    def here(self) -> bool:
        return self.path.exists()

    def reason(self) -> str:
        return f"conformance suite '{self.key}' skipped: {self.path} is not here ({self.what}; kept beside the checkout as ../shared, never in it)"


SUITES = {
    "corpus": Suite("corpus", "upstream GitOps manifests the pin editor and the targeting checks are proven on",
                    SHARED / "corpus"),
    "selectors": Suite("selectors", "apimachinery's selector test tables", SHARED / "reference" / "selectors-apimachinery.json"),
}

# The suites the running test asked for; conftest.py moves them into the test's report.
asked: set[str] = set()


def need(key: str) -> Path:
    """The suite's path, or skip the running test saying what is missing."""
    suite = SUITES[key]
    asked.add(key)
    if not suite.here():
        pytest.skip(suite.reason())
    return suite.path


def corpus() -> Path:
    """../shared/corpus: upstream/<owner>/<repo>/<path>, and the corpus's own examples."""
    return need("corpus")


def selector_cases() -> list[dict]:
    """apimachinery's selector cases; [] without ../shared (parametrize with `cases_or_absent`)."""
    suite = SUITES["selectors"]
    return json.loads(suite.path.read_text())["cases"] if suite.here() else []


def cases_or_absent(cases: list, key: str) -> list:
    """Parameters of a test over a suite's cases: without the suite, one placeholder case,
    so the test is still collected and skips with the reason (the test calls need())."""
    return cases if SUITES[key].here() else [pytest.param(None, id=f"{key}-absent")]
