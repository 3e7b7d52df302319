"""Prometheus gate: one instant query per cluster for the worst value of the gate's
query since the wave's advance (`max_over_time`, or `min_over_time` for a `min` bound),
on a bounded thread pool; no state lives outside Git. The verdict on the answer is
waves/gates/prometheus.py's.

A query Prometheus rejects (HTTP 400: bad PromQL) is the operator's set-up error: exit 2,
found by `preflight` before anything is written. A Prometheus that cannot be reached is
an observer outage (the check is not observed).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from rollout.observers import Check, Context, SetupError, nowhere
from waves.gates.prometheus import emptied, judge
from waves.templates import EmptyLabel, MissingLabel, render

MAX_PARALLEL = 16
TIMEOUT = 10


def promql(config, cluster: str, labels: dict[str, str], window: int) -> str:
    """The query for one cluster; raises MissingLabel when it lacks a label the query names
    (left in, `{labels.team}` is a PromQL string that matches no series: "no data", or
    with `or vector(0)` a value that passes), EmptyLabel when an empty one leaves it
    selecting any cluster's series (`team=""`: the plan refuses it; the last guard, for a
    plan made from advance records while the inventory cannot be read)."""
    query = render(config.query, cluster, labels)
    vacuous = emptied(config.query, cluster, labels)
    if vacuous is not None:
        raise EmptyLabel(vacuous[0], query)
    worst = "max_over_time" if config.max is not None else "min_over_time"
    return f"{worst}(({query})[{max(60, int(window))}s:15s])"


def _query(ctx: Context, config, cluster: str) -> str | None:
    try:
        return promql(config, cluster, ctx.labels[cluster], ctx.window)
    except MissingLabel:
        return None


class _Refused(Exception):
    """Prometheus refused our credentials (HTTP 401/403)."""


def _ask(config, query: str, who: str) -> tuple[dict | None, str]:
    """Prometheus's answer to an instant query; (None, why) when it cannot be reached.
    Raises SetupError when Prometheus says the query or the URL is wrong, _Refused when
    it refuses our credentials."""
    url = config.url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return json.loads(response.read()), ""
    except urllib.error.HTTPError as err:
        try:
            body = json.loads(err.read() or b"{}")
        except ValueError:
            body = {}
        message = body.get("error") or err.reason
        if err.code == 400:
            raise SetupError(f"{who}: Prometheus at {config.url} rejected the query ({message}): {query}") from None
        if err.code in (401, 403):
            raise _Refused(f"{config.url} refused our credentials (HTTP {err.code} {err.reason}) to /api/v1/query")
        if err.code == 404:
            raise SetupError(f"{who}: {config.url} answered HTTP {err.code} {err.reason} to /api/v1/query: "
                             "is it the Prometheus API?") from None
        if err.code == 422:
            return {"status": "error", "error": message}, ""
        return None, f"Prometheus at {config.url} answered HTTP {err.code} {err.reason}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return None, f"cannot query {config.url}: {getattr(err, 'reason', None) or type(err).__name__}"


def preflight(ctx: Context, config, clusters, reach: bool = False) -> None:
    """Prometheus parses the query (as rendered for the first cluster it can be) now, so a typo
    stops the run before anything is written; an unreachable Prometheus is not a set-up
    error (it is judged, as unknown, when the wave is). Refused credentials are one
    before the wave goes out (`reach`); after, the gate is blind (observe)."""
    queries = (_query(ctx, config, c) for c in clusters)
    query = next((q for q in queries if q is not None), None)  # the plan refuses a missing label: the last guard
    if query is not None:
        try:
            _ask(config, query, "gate prometheus")
        except _Refused as err:
            if reach:
                raise SetupError(f"gate prometheus: {err}: may we read it?") from None


def probe(ctx: Context, config, clusters, others) -> bool:
    """One Prometheus serves every cluster: when it answers nobody, it is blind."""
    return False


def observe(ctx: Context, config, clusters) -> list[Check]:
    def one(cluster: str) -> Check:
        query = _query(ctx, config, cluster)
        if query is None:
            return nowhere(cluster, "prometheus", "query")
        try:
            answer, why = _ask(config, query, "gate prometheus")
        except _Refused as err:
            return Check(cluster, "prometheus", "pending", str(err), observed=False, refused=True)
        if answer is None:
            return Check(cluster, "prometheus", "pending", why, observed=False)
        verdict = judge(answer, config, max(60, int(ctx.window)))
        return Check(cluster, "prometheus", verdict.state, verdict.reason, value=verdict.value)

    if len(clusters) == 1:
        return [one(clusters[0])]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(clusters))) as pool:
        return list(pool.map(one, clusters))
