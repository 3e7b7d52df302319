"""The simulator's HTTP server: enough of the Kubernetes API for the unmodified
`kubernetes` client (and kubectl) to list, get and watch the Argo CD and Flux objects.

aiohttp, because one well-kept package gives an asyncio HTTP server and chunked
streaming for `?watch=true`, without an ASGI stack (docs/simulator.md).

Paths: the kubeconfig's contexts point at `/hub` (Argo CD Applications) and at
`/clusters/<name>` (that cluster's Flux objects); below them the real API paths follow:
`/apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>]`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rollout.simulator.fleet import Key, learn, merge
from rollout.simulator.rancher import render as fleet_render
from rollout.simulator.status import Fault, SimObject, Timing, argo_status, flux_status, phase, workload


MIN_POLL = 0.1  # `--poll 0s`: as often as that, not a loop spinning on git
TOKEN = "rollout-simulator"  # the bearer token the kubeconfig carries and the API requires


@dataclass
class Simulator:
    source: str  # the repo to follow: a path or URL git can clone
    timing: Timing = field(default_factory=Timing)
    faults: list[Fault] = field(default_factory=list)
    poll: float = 2.0
    branch: str | None = None  # None: the remote's default branch (its HEAD)
    started: float = field(default_factory=time.time)
    objects: dict[Key, SimObject] = field(default_factory=dict)
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)
    version: int = 0
    commit: str | None = None
    problems: list[str] = field(default_factory=list)
    forge: tuple | None = None  # (scm, ForgeStore): `--scm` serves that forge's REST subset beside the fleet
    hub: object | None = None  # rollout.simulator.hub.Hub: `--hub` serves the live inventory sources' objects
    _checkout: Path | None = None
    _phases: dict = field(default_factory=dict)
    _metrics: object | None = None

    # --- following the repo -------------------------------------------------------------
    def refresh(self) -> bool:
        """Fetch the followed branch; when it moved, learn the fleet again. True if changed.
        Raises SimulatorError (one line) when git cannot read the repo or the branch."""
        if self._checkout is None:
            self.branch = self.branch or default_branch(self.source)
            checkout = Path(tempfile.mkdtemp(prefix="rollout-sim-")) / "repo"
            try:
                _git(["clone", "--quiet", "--branch", self.branch, self.source, str(checkout)], self.source)
            except SimulatorError:
                shutil.rmtree(checkout.parent, ignore_errors=True)
                raise
            self._checkout = checkout
        else:
            if self._tip_unchanged():
                return False
            _git(["fetch", "--quiet", "origin", self.branch], self.source, cwd=self._checkout)
            _git(["reset", "--quiet", "--hard", "FETCH_HEAD"], self.source, cwd=self._checkout)
        head = _git(["rev-parse", "HEAD"], self.source, cwd=self._checkout).strip()
        if head == self.commit:
            return False
        from rollout.simulator.hub import Lister

        learned = learn(self._checkout, head, time.time(), hub=Lister(self.hub))
        self.objects, self.version = merge(self.objects, learned.objects, time.time(), self.version)
        self.clusters, self.problems, self.commit = learned.clusters, learned.problems, head
        return True

    def _tip_unchanged(self) -> bool:
        """A local repo's branch still at the commit learned: one rev-parse instead of a
        fetch, a reset and a rev-parse (a poll every 0.1 s stays cheap). Anything else,
        a URL or a ref git cannot read, is for the fetch to find out and say."""
        if self.commit is None or not Path(self.source).is_dir():
            return False
        tip = subprocess.run(["git", "-C", self.source, "rev-parse", "--verify", "--quiet",
                              f"refs/heads/{self.branch}^{{commit}}"], capture_output=True, text=True)
        return tip.returncode == 0 and tip.stdout.strip() == self.commit

    def close(self) -> None:
        if self._checkout is not None:
            shutil.rmtree(self._checkout.parent, ignore_errors=True)

    # --- what the API shows ---------------------------------------------------------------
    def unreachable(self, cluster: str, now: float) -> bool:
        return any(f.cluster == cluster and f.kind == "unreachable" and f.applies(None, now - self.started)
                   for f in self.faults)

    def _running_fault(self, cluster: str, kind: str, now: float) -> Fault | None:
        """A fault of `kind` that applies while the cluster runs its revision."""
        running = {o.desired for o in self.objects.values()
                   if o.cluster == cluster and phase(o, now, self.timing) in ("synced", "healthy")}
        return next((f for f in self.faults if f.cluster == cluster and f.kind == kind
                     and (f.revision is None or f.revision in running)), None)

    def error_rate(self, cluster: str, now: float) -> float:
        """The fraction of the cluster's (simulated) workload requests that fail now."""
        fault = self._running_fault(cluster, "errors", now)
        return fault.error_rate if fault else 0.0

    def metrics(self) -> bytes:
        """Prometheus exposition: per-cluster request and error counters. Each scrape
        adds the requests since the last one (100/s a cluster) and their errors at the
        cluster's current error rate, so `rate(...)` over a window follows the faults."""
        from prometheus_client import CollectorRegistry, Counter, generate_latest

        if self._metrics is None:
            registry = CollectorRegistry()
            self._metrics = {
                "registry": registry,
                "requests": Counter("http_requests_total", "Simulated workload requests", ["cluster", "code"],
                                    registry=registry),
                "last": time.time(),
            }
        m = self._metrics
        now = time.time()
        elapsed, m["last"] = now - m["last"], now
        for cluster in sorted(self.clusters):
            total = 0.0 if self._running_fault(cluster, "idle", now) else 100.0 * elapsed  # idle: 0/0 ratios
            errors = total * self.error_rate(cluster, now)
            m["requests"].labels(cluster=cluster, code="200").inc(total - errors)
            m["requests"].labels(cluster=cluster, code="500").inc(errors)
        return generate_latest(m["registry"])

    def render(self, obj: SimObject, now: float) -> dict:
        faults = [f for f in self.faults if f.cluster == obj.cluster]
        spec, generation, labels = obj.spec, obj.generation, obj.labels
        if obj.fleet is not None:
            spec, generation, status, labels = fleet_render(obj, now, self.timing, faults,
                                                            self.unreachable(obj.cluster, now))
        elif obj.image_path is not None:
            spec, generation, status = workload(obj, now, self.timing, faults)
        elif obj.kind == "Application":
            status = argo_status(obj, now, self.timing, faults, self.started)
        else:
            status = flux_status(obj, now, self.timing, faults)
        return {
            "apiVersion": obj.api_version,
            "kind": obj.kind,
            "metadata": {"name": obj.name, "namespace": obj.namespace, "labels": labels,
                         "generation": generation, "resourceVersion": str(self._rv(obj, now)),
                         "uid": f"sim-{obj.context}-{obj.namespace}-{obj.name}"},
            "spec": spec,
            "status": status,
        }

    def _rv(self, obj: SimObject, now: float) -> int:
        """resourceVersion moves whenever what the object shows moves (status included)."""
        mark = (obj.desired, phase(obj, now, self.timing), self.unreachable(obj.cluster, now))
        key = (obj.context, obj.plural, obj.namespace, obj.name)
        if self._phases.get(key, (None, None))[0] != mark:
            self.version += 1
            self._phases[key] = (mark, self.version)
        return self._phases[key][1]


class SimulatorError(Exception):
    """The repo cannot be followed: one line for the user (exit 2)."""


def git_failure(err: subprocess.CalledProcessError) -> str:
    """git's own last words, whether it was run for text or for bytes."""
    out = err.stderr if err.stderr is not None else err.output
    if isinstance(out, bytes):
        out = out.decode(errors="replace")
    lines = [line.strip() for line in (out or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return errors[0] if errors else lines[-1] if lines else str(err)


def _git(args: list[str], source: str, cwd: Path | None = None) -> str:
    try:
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as err:
        raise SimulatorError(f"--repo {source}: git cannot read it ({git_failure(err)})") from None


def default_branch(source: str) -> str:
    """The branch the remote's HEAD names; when that branch does not exist (a plain
    `git init --bare` names master, the fleet pushed main), its only branch."""
    listed = _git(["ls-remote", "--symref", source, "HEAD", "refs/heads/*"], source)
    head, branches = None, []
    for line in listed.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            head = line[len("ref: "):-len("\tHEAD")].removeprefix("refs/heads/")
        elif "\trefs/heads/" in line:
            branches.append(line.split("\trefs/heads/", 1)[1])
    if head in branches:
        return head
    if len(branches) == 1:
        return branches[0]
    if not branches:
        raise SimulatorError(f"--repo {source}: it has no branch yet (push the fleet's branch first)")
    named = f"names {head}, which does not exist" if head else "names no existing branch"
    raise SimulatorError(f"--repo {source}: its HEAD {named}; pass --branch, one of {', '.join(sorted(branches))}")


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def _matches(labels: dict, selector: str | None) -> bool:
    if not selector:
        return True
    from waves.selectors import parse_selector

    return parse_selector(selector).matches(labels)


def make_app(sim: Simulator):
    from aiohttp import web

    def json_response(body: dict, status: int = 200):
        return web.json_response(body, status=status)

    async def version(request):
        return json_response({"major": "1", "minor": "31", "gitVersion": "v1.31.0-rollout-simulator",
                              "platform": "linux/amd64"})

    def context_of(request) -> str | None:
        prefix = request.match_info["prefix"]
        if prefix in ("hub", "fleet-manager"):
            return prefix
        if prefix.startswith("clusters/"):
            return prefix[len("clusters/"):]
        return None

    def objects_for(request, namespace: str | None):
        context = context_of(request)
        group, ver, plural = request.match_info["group"], request.match_info["version"], request.match_info["plural"]
        return [o for (ctx, g, p, ns, _), o in sim.objects.items()
                if ctx == context and g == group and p == plural and o.version == ver
                and (namespace is None or ns == namespace)]

    async def guard(request):
        """An unreachable cluster drops the connection, as a dead API server would; a
        request without the kubeconfig's token is refused (401), as a real one would."""
        context = context_of(request)
        if context and context not in ("hub", "fleet-manager") and sim.unreachable(context, time.time()):
            request.transport.close()
            raise ConnectionResetError(f"cluster {context} is unreachable")
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized(text=json.dumps(_status(401, "Unauthorized", "Unauthorized")),
                                       content_type="application/json")

    async def list_objects(request):
        await guard(request)
        namespace = request.match_info.get("namespace")
        selector = request.query.get("labelSelector")
        group, plural = request.match_info.get("group", ""), request.match_info["plural"]
        served = None
        if sim.hub is not None and context_of(request) == "hub":  # the live inventory sources' objects
            served = sim.hub.items(group, request.match_info["version"], plural, namespace, time.time())
        from rollout.simulator.hub import page, serves

        if served is None and (not group or serves(group, plural)):  # no --hub: those kinds are not installed
            return json_response(_status(404, "NotFound", "the server could not find the requested resource"), 404)
        try:
            if served is not None:  # every page of a LIST filters the same list: only when asked to
                chosen = [o for o in served if _matches(o["metadata"].get("labels") or {}, selector)] if selector else served
            else:
                chosen = [o for o in objects_for(request, namespace) if _matches(o.labels, selector)]
        except ValueError as err:
            return json_response(_status(400, "BadRequest", f"unable to parse requirement: {err}"), 400)
        if request.query.get("watch") in ("true", "1") and served is None:
            return await watch(request, namespace, selector)
        now = time.time()
        kind = f"{request.match_info['plural']}"
        if served is not None:
            items, first_kind = chosen, (chosen[0]["kind"] if chosen else kind.rstrip("s").capitalize())
        else:
            items = [sim.render(o, now) for o in sorted(chosen, key=lambda o: (o.namespace, o.name))]
            first_kind = chosen[0].kind if chosen else kind.rstrip("s").capitalize()
        limit, token = request.query.get("limit"), request.query.get("continue")
        if served is not None and token and sim.hub.expired():  # kube-apiserver's words for a compacted snapshot
            return json_response(_status(410, "Expired", "The provided continue parameter is too old to display a "
                                                         "consistent list result. You can start a new list without "
                                                         "the continue parameter."), 410)
        # the hub's pages, encoded once while what they show holds (an API server serves a
        # LIST from its watch cache in Go; encoding 10,000 objects again each time in Python
        # would make the simulator, not the client, the benchmark's bottleneck)
        cached = sim.hub.encoded(served, selector, limit, token) if served is not None else None
        if cached is not None:
            return web.Response(body=cached, content_type="application/json")
        try:
            items, meta = page(items, limit, token, sim.version)
        except ValueError as err:
            return json_response(_status(400, "BadRequest", str(err)), 400)
        body = json.dumps({
            "apiVersion": f"{group}/{request.match_info['version']}" if group else request.match_info["version"],
            "kind": first_kind + "List",
            "metadata": meta,
            "items": items,
        }, separators=(",", ":")).encode()
        if served is not None:
            sim.hub.encoded(served, selector, limit, token, body)
        return web.Response(body=body, content_type="application/json")

    async def get_object(request):
        await guard(request)
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        for obj in objects_for(request, namespace):
            if obj.name == name:
                return json_response(sim.render(obj, time.time()))
        plural, group = request.match_info["plural"], request.match_info["group"]
        return json_response(_status(404, "NotFound", f'{plural}.{group} "{name}" not found'), 404)

    async def watch(request, namespace, selector):
        """Kubernetes watch semantics: without `resourceVersion`, ADDED for every object
        first; then ADDED / MODIFIED / DELETED as objects change (status included), one
        JSON event per line, until `timeoutSeconds` or the client goes away."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        deadline = time.monotonic() + float(request.query.get("timeoutSeconds") or 1800)
        since = int(request.query.get("resourceVersion") or 0)
        seen: dict[tuple, int] | None = None
        while time.monotonic() < deadline:
            now = time.time()
            current = {}
            for obj in objects_for(request, namespace):
                if _matches(obj.labels, selector):
                    body = sim.render(obj, now)
                    current[(obj.namespace, obj.name)] = (int(body["metadata"]["resourceVersion"]), body)
            events = []
            for key, (rv, body) in sorted(current.items()):
                if seen is None:
                    if not since or rv > since:
                        events.append(("ADDED" if not since else "MODIFIED", body))
                elif key not in seen:
                    events.append(("ADDED", body))
                elif rv != seen[key]:
                    events.append(("MODIFIED", body))
            for key in sorted(set(seen or ()) - set(current)):
                events.append(("DELETED", {"metadata": {"namespace": key[0], "name": key[1]}}))
            for kind, body in events:
                await response.write(json.dumps({"type": kind, "object": body}).encode() + b"\n")
            seen = {k: v[0] for k, v in current.items()}
            await asyncio.sleep(0.2)
        await response.write_eof()
        return response

    async def hub_knob(request):
        """The simulator's test knob, not Kubernetes': {"down": {cluster: reason}, "absent": [cluster],
        "expire": N (the next N continue tokens answer 410 Expired)}."""
        if sim.hub is None:
            return json_response(_status(404, "NotFound", "no --hub"), 404)
        body = await request.json()
        sim.hub.set(body.get("down"), body.get("absent"), body.get("expire"))
        return json_response({"down": sim.hub.down, "absent": sorted(sim.hub.absent), "expire": sim.hub.expire})

    async def metrics(request):
        return web.Response(body=sim.metrics(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def not_found(request):
        return json_response(_status(404, "NotFound", f"the server could not find the requested resource ({request.path})"), 404)

    app = web.Application()
    prefix = r"{prefix:hub|fleet-manager|clusters/[a-z0-9][-a-z0-9.]*}"
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get(f"/{prefix}/version", version)
    app.router.add_get(f"/{prefix}/apis/{{group}}/{{version}}/{{plural}}", list_objects)
    app.router.add_get(f"/{prefix}/apis/{{group}}/{{version}}/namespaces/{{namespace}}/{{plural}}", list_objects)
    app.router.add_get(f"/{prefix}/apis/{{group}}/{{version}}/namespaces/{{namespace}}/{{plural}}/{{name}}", get_object)
    app.router.add_get(f"/{prefix}/api/{{version}}/namespaces/{{namespace}}/{{plural}}", list_objects)  # core: Secrets
    app.router.add_post("/_sim/hub", hub_knob)
    if sim.forge is not None:  # before the catch-all: the first matching route answers
        from rollout.simulator.forge import load, prefix as forge_prefix

        scm, store = sim.forge
        load(scm).add_routes(app, store, forge_prefix(scm))
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


def kubeconfig(url: str, clusters: list[str], fleet_manager: bool = False) -> dict:
    """Context `hub` (namespace argocd), `fleet-manager` (namespace fleet-default) when the
    fleet has Rancher Fleet objects, and one context per cluster, named after it."""
    entries = [("hub", f"{url}/hub", "argocd")] + ([("fleet-manager", f"{url}/fleet-manager", "fleet-default")]
                                                   if fleet_manager else [])
    entries += [(name, f"{url}/clusters/{name}", "flux-system") for name in clusters]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "hub",
        "clusters": [{"name": n, "cluster": {"server": server}} for n, server, _ in entries],
        "users": [{"name": "simulator", "user": {"token": TOKEN}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "simulator", "namespace": ns}} for n, _, ns in entries],
    }


def state_dir() -> Path:
    """A fresh directory for this simulator's files (its kubeconfig) under the XDG state
    directory, never in the repo: a stray file there would block `rollout advance`."""
    import os

    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "rollout" / "simulator"
    try:
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))
    except OSError:  # no writable home: the temp dir
        return Path(tempfile.mkdtemp(prefix="rollout-simulator-"))


async def serve(sim: Simulator, host: str, port: int, kubeconfig_out: Path, on_ready) -> None:
    from aiohttp import web

    if sim.commit is None:
        sim.refresh()
    runner = web.AppRunner(make_app(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    actual = site._server.sockets[0].getsockname()[1]  # port 0: the OS picked one
    url = f"http://{host}:{actual}"
    kubeconfig_out.parent.mkdir(parents=True, exist_ok=True)
    fleet_manager = any(o.context == "fleet-manager" for o in sim.objects.values())
    kubeconfig_out.write_text(json.dumps(kubeconfig(url, sorted(sim.clusters), fleet_manager), indent=2))
    on_ready(url, len(sim.clusters), len(sim.objects))
    try:
        while True:
            await asyncio.sleep(max(sim.poll, MIN_POLL))
            try:
                await asyncio.get_running_loop().run_in_executor(None, sim.refresh)
            except SimulatorError as err:  # keep serving what was learned; say why it is stale
                print(f"warning: {err}", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()
        sim.close()
