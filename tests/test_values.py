"""Durations, counts and per-cluster templates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waves.durations import format_duration, parse_duration
from waves.policy import resolve_count
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


def test_templates():
    assert render("a/{cluster}/{labels.region}.yaml", "c1", {"region": "eu"}) == "a/c1/eu.yaml"
    with pytest.raises(MissingLabel) as missing:
        render("{labels.tier}", "c1", {})
    assert missing.value.key == "tier"
    for bad in ["{clusters}", "{labels.}", "{name}", "a{b", "x}"]:
        with pytest.raises(ValueError):
            check_template(bad)
