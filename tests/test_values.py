"""Durations, counts and per-cluster templates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waves.durations import format_duration, parse_duration
from waves.policy import failure_budget, resolve_count
from waves.templates import MissingLabel, check_template, render


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("1h", 3600), ("1h30m", 5400),
                                           ("2d", 172800), ("0s", 0), ("1d2h3m4s", 93784)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "1.5h", "30m1h", "-1m", "1w", "1h 30m", "m"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**8))
def test_duration_format_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("spec, total, count", [(3, 10, 3), ("25%", 10, 3), ("25%", 4, 1), ("1%", 3, 1),
                                                ("100%", 7, 7), ("50%", 0, 0)])
def test_counts(spec, total, count):
    assert resolve_count(spec, total) == count


@pytest.mark.parametrize("spec, total, allowed", [(0, 5, 0), (1, 5, 1), (2, 5, 2), ("10%", 5, 0), ("10%", 10, 1),
                                                  ("25%", 10, 2), ("50%", 4, 2), (1, 1, 0), (3, 1, 0), ("100%", 1, 0),
                                                  ("100%", 7, 6), (2, 0, 0), ("10%", 0, 0)])
def test_failure_budgets(spec, total, allowed):
    assert failure_budget(spec, total) == allowed


@given(st.one_of(st.integers(min_value=0, max_value=10**4), st.integers(min_value=0, max_value=100).map("{}%".format)),
       st.integers(min_value=0, max_value=10**4))
def test_a_failure_budget_never_lets_a_whole_wave_fail(spec, total):
    """A wave passes with at most `budget` failed clusters: never all of them (a one-cluster canary that
    failed is failed), never more than the count written, a percentage rounded down."""
    budget = failure_budget(spec, total)
    assert 0 <= budget < max(total, 1)
    written = spec if isinstance(spec, int) else total * int(spec[:-1]) / 100
    assert budget <= written


def test_templates():
    assert render("a/{cluster}/{labels.region}.yaml", "c1", {"region": "eu"}) == "a/c1/eu.yaml"
    with pytest.raises(MissingLabel) as missing:
        render("{labels.tier}", "c1", {})
    assert missing.value.key == "tier"
    for bad in ["{clusters}", "{labels.}", "{name}", "a{b", "x}"]:
        with pytest.raises(ValueError):
            check_template(bad)
