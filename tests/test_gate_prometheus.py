"""The Prometheus verdict on instant-query answers as Prometheus's HTTP API writes them
(prometheus/prometheus docs/querying/api.md: `{"status": "success", "data": {"resultType":
"vector", "result": [{"metric": {...}, "value": [<unix time>, "<value as text>"]}]}}`;
NaN and ±Inf are written "NaN", "+Inf", "-Inf")."""

from __future__ import annotations

import pytest

from waves.gates.prometheus import PrometheusGateConfig, judge

MAX = PrometheusGateConfig(url="http://prometheus:9090", query="error_ratio{cluster=\"{cluster}\"}", max=0.05)
MIN = PrometheusGateConfig(url="http://prometheus:9090", query="success_ratio{cluster=\"{cluster}\"}", min=0.99)


def answer(*values: str) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"cluster": "dev-eu-west", "pod": f"api-{i}"}, "value": [1764050000.123, v]}
        for i, v in enumerate(values)]}}


@pytest.mark.parametrize("config, values, expected", [
    (MAX, ["0.01"], "passed"),
    (MAX, ["0.2"], "failed"),
    (MAX, ["NaN"], "pending"),  # 0/0: no traffic is no evidence
    (MAX, ["+Inf"], "failed"),  # x/0 above any max
    (MAX, ["-Inf"], "pending"),  # never passes
    (MAX, [], "pending"),  # no data yet
    (MAX, ["0.01", "0.3"], "failed"),  # the worst series counts
    (MAX, ["0.01", "NaN"], "pending"),
    (MIN, ["0.999"], "passed"),
    (MIN, ["0.5"], "failed"),
    (MIN, ["-Inf"], "failed"),
    (MIN, ["+Inf"], "pending"),
    (MIN, ["NaN"], "pending"),
])
def test_verdict(config, values, expected):
    verdict = judge(answer(*values), config, 300)
    assert verdict.state == expected, verdict.reason


def test_nan_and_infinities_never_pass_whatever_the_bounds():
    from hypothesis import given, strategies as st

    bound = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)

    @given(st.sampled_from(["NaN", "+Inf", "-Inf"]), bound, st.booleans())
    def check(value, limit, upper):
        config = PrometheusGateConfig(url="http://p:9090", query="q", **({"max": limit} if upper else {"min": limit}))
        assert judge(answer(value), config, 60).state != "passed"

    check()


def test_an_execution_error_is_pending_with_prometheus_s_message():
    verdict = judge({"status": "error", "errorType": "execution", "error": "many-to-many matching not allowed"}, MAX, 60)
    assert verdict.state == "pending" and "many-to-many" in verdict.reason
