"""Selectors mean what kubectl means: every case of apimachinery's own selector test
tables (pkg/labels/selector_test.go, transcribed in ../shared/reference), read from
there, never copied; without ../shared those two tests skip (tests/upstream.py), the rest
run. Gt/Lt parse in apimachinery but a LabelSelector may not use them: for cluster
selection they are refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upstream import cases_or_absent, need, selector_cases
from waves.selectors import LabelSelector, parse_requirements, parse_selector

CASES = selector_cases()


def _parse(selector):
    if isinstance(selector, str):
        return parse_selector(selector)
    return LabelSelector.model_validate(selector)


def _case_id(case) -> str:
    return f"{case['id']}-{case['source']}"


@pytest.mark.parametrize("case", cases_or_absent([c for c in CASES if not c.get("gt_lt")], "selectors"), ids=_case_id)
def test_agrees_with_apimachinery(case):
    need("selectors")
    if case["expect"] == "parse-error":
        with pytest.raises(ValueError):
            _parse(case["selector"])
        return
    selector = _parse(case["selector"])
    if "labels" in case:
        assert selector.matches(case["labels"]) is (case["expect"] == "match")
    if "requirements" in case and isinstance(case["selector"], str):
        expected = sorted((r["key"], r["operator"], tuple(sorted(r["values"]))) for r in case["requirements"])
        assert sorted(parse_requirements(case["selector"])) == expected


@pytest.mark.parametrize("case", cases_or_absent([c for c in CASES if c.get("gt_lt")], "selectors"), ids=_case_id)
def test_gt_and_lt_are_refused_for_cluster_selection(case):
    need("selectors")
    with pytest.raises(ValueError) as raised:
        _parse(case["selector"])
    if case["expect"] != "parse-error":  # valid for node affinity: the reason is the operator
        assert "not supported for cluster selection" in str(raised.value)


@pytest.mark.parametrize("text", ["gen>3", "x in (a", "a=b,", "environment in (production qa)", "Example.com/a=b"])
def test_errors_are_one_line_without_links(text):
    with pytest.raises(ValueError) as raised:
        parse_selector(text)
    message = str(raised.value)
    assert "\n" not in message and "http" not in message and message.startswith(f"selector {text!r}: ")


def test_match_expressions_refuse_gt_with_the_reason():
    with pytest.raises(ValueError, match="Gt is not supported for cluster selection"):
        LabelSelector.model_validate({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["3"]}]})


_pieces = st.sampled_from(["a", "b", "x.y/z", "in", "notin", "=", "==", "!=", "!", "(", ")", ",", " ", "\t", ">",
                           "<", "1", "", "-", "é", "*"])


@given(st.lists(_pieces, max_size=12).map("".join))
def test_any_text_parses_or_fails_with_one_line(text):
    """Bad input is a clear error, never a crash: whatever the text, the parser returns
    requirements or raises ValueError with one line."""
    try:
        parsed = parse_selector(text)
    except ValueError as err:
        assert "\n" not in str(err)
        return
    # what parsed, printed back in kubectl's syntax, parses to the same selector
    again = parse_selector(str(parsed) if str(parsed) != "(all)" else "")
    assert again == parsed
