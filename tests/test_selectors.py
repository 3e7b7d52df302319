"""Label selectors with Kubernetes semantics, and kubectl's string form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waves.selectors import LabelSelector, parse_selector

LABELS = {"env": "prod", "region": "eu-west", "compliance": "gdpr"}


@pytest.mark.parametrize(
    "selector, matches",
    [
        ({}, True),
        ({"matchLabels": {"env": "prod"}}, True),
        ({"matchLabels": {"env": "prod", "region": "us-east"}}, False),
        ({"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu-west", "us-east"]}]}, True),
        ({"matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["eu-west"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["1"]}]}, True),  # absent label
        ({"matchExpressions": [{"key": "compliance", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "compliance", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
        ({"matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
    ],
)
def test_kubernetes_semantics(selector, matches):
    assert LabelSelector.model_validate(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "takes no values"),
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}, "'In', 'NotIn', 'Exists' or 'DoesNotExist'"),
        ({"matchLabels": {"bad key!": "x"}}, "not a valid label key"),
        ({"matchLabels": {"a": "has space"}}, "not a valid label value"),
        ({"matchLabels": {"a": "x"}, "matchFields": {}}, "Extra inputs"),
    ],
)
def test_invalid_selectors_say_why(bad, reason):
    with pytest.raises(ValueError, match=reason):
        LabelSelector.model_validate(bad)


@pytest.mark.parametrize(
    "text, matches",
    [
        ("env=prod,region in (eu-west)", True),
        ("env==prod", True),
        ("env!=prod", False),
        ("region notin (us-east, ap-south)", True),
        ("compliance", True),
        ("!compliance", False),
        ("!tier,env=prod", True),
        ("", True),
    ],
)
def test_string_form(text, matches):
    assert parse_selector(text).matches(LABELS) is matches


@pytest.mark.parametrize("text", ["a in x", "a=b c", "=b", "a in (b", "a,,b", "in (x)"])
def test_string_form_errors(text):
    with pytest.raises(ValueError):
        parse_selector(text)


label_values = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
requirements = st.one_of(
    st.builds(lambda k, vs: {"key": k, "operator": "In", "values": vs}, st.sampled_from(["a", "b"]), st.lists(label_values, min_size=1, max_size=3)),
    st.builds(lambda k, vs: {"key": k, "operator": "NotIn", "values": vs}, st.sampled_from(["a", "b"]), st.lists(label_values, min_size=1, max_size=3)),
    st.builds(lambda k: {"key": k, "operator": "Exists"}, st.sampled_from(["a", "b", "c"])),
    st.builds(lambda k: {"key": k, "operator": "DoesNotExist"}, st.sampled_from(["a", "b", "c"])),
)


@given(
    st.dictionaries(st.sampled_from(["a", "b"]), label_values, max_size=2),
    st.lists(requirements, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), label_values, max_size=3),
)
def test_string_form_round_trips(match_labels, expressions, labels):
    selector = LabelSelector.model_validate({"matchLabels": match_labels, "matchExpressions": expressions})
    assert parse_selector(str(selector) if str(selector) != "(all)" else "").matches(labels) == selector.matches(labels)
