"""Notifications: one module per sink (webhook.py, slack.py), each turning an Event into
an HTTP request; this sends them. Sent after the commit is published, at most once per
event (keyed by the event's commit), with retries and a short timeout; a sink that fails
is a warning, never a failed rollout. Secret URLs and headers never reach a message."""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import dataclass, field

SINKS = {"webhook": "rollout.notify.webhook", "slack": "rollout.notify.slack"}
ATTEMPTS = 3
TIMEOUT = 5.0  # seconds per attempt
BACKOFF = 0.5  # seconds, doubled after each failed attempt
FIRST_CLUSTERS = 5


@dataclass(frozen=True)
class Event:
    kind: str  # advanced | passed | failed | reverted | halted | paused | resumed | complete
    policy: str
    revision: str = ""
    commit: str = ""  # the commit that records it (or HEAD when nothing was committed: halted)
    wave: int | None = None
    wave_name: str | None = None
    clusters: tuple[str, ...] = ()
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind} {self.policy} {self.wave_name or '-'} {self.commit}"

    def as_dict(self, link: str | None) -> dict:
        return {"event": self.kind, "policy": self.policy, "revision": self.revision,
                "wave": {"number": self.wave, "name": self.wave_name} if self.wave is not None else None,
                "clusters": {"count": len(self.clusters), "first": list(self.clusters[:FIRST_CLUSTERS])},
                "commit": self.commit, "reason": self.reason, "link": link}

    def headline(self) -> str:
        wave = f" wave {self.wave} {self.wave_name}" if self.wave is not None else ""
        revision = f" -> {self.revision}" if self.revision else ""
        return f"rollout {self.policy}{revision}:{wave} {self.kind}"

    def clusters_text(self) -> str:
        if not self.clusters:
            return ""
        shown = ", ".join(self.clusters[:FIRST_CLUSTERS])
        more = f" and {len(self.clusters) - FIRST_CLUSTERS} more" if len(self.clusters) > FIRST_CLUSTERS else ""
        return f"{len(self.clusters)} cluster{'s' if len(self.clusters) != 1 else ''}: {shown}{more}"


@dataclass
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class SinkError(Exception):
    """A sink cannot be used (a missing environment variable); said without secrets."""


def secret(ref, what: str) -> str:
    value = os.environ.get(ref.env, "")
    if not value:
        raise SinkError(f"{what}: environment variable {ref.env} is not set")
    return value


def link(spec, event: Event) -> str | None:
    if not spec.linkTemplate or not event.commit:
        return None
    return spec.linkTemplate.replace("{commit}", event.commit)


def send(specs, events: list[Event], sent: "SentLog | None" = None) -> list[str]:
    """Send every event each sink wants; returns warning lines (never raises)."""
    warnings = []
    for event in events:
        if sent is not None and sent.seen(event.key):
            continue
        for index, spec in enumerate(specs):
            if event.kind not in spec.events:
                continue
            module = importlib.import_module(SINKS[spec.sink])
            where = f"notify[{index}] {spec.sink}"
            try:
                request = module.request(spec.config, event, link(spec, event))
                problem = _post(request)
            except SinkError as err:
                problem = str(err)
            if problem:
                warnings.append(f"warning: {where}: {event.kind} not sent: {problem}")
        if sent is not None:
            sent.add(event.key)
    return warnings


def _post(request: Request) -> str | None:
    """POST with retries; None when delivered, else why (with no URL or header in it)."""
    import urllib.error  # imported here: urllib.request brings http.client and email (~8 ms), which
    import urllib.request  # a step with no sink to send to (most of them) does not need

    delay, problem = BACKOFF, None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(delay)
            delay *= 2
        http = urllib.request.Request(request.url, data=request.body, method="POST",
                                      headers={"Content-Type": "application/json", "User-Agent": "rollout",
                                               **request.headers})
        try:
            with urllib.request.urlopen(http, timeout=TIMEOUT) as response:
                response.read()
            return None
        except urllib.error.HTTPError as err:
            problem = f"HTTP {err.code}"
            if 400 <= err.code < 500 and err.code not in (408, 429):
                break  # the request is wrong: asking again will not help
        except urllib.error.URLError as err:
            problem = _why(err.reason)
        except (OSError, ValueError) as err:  # TimeoutError is an OSError
            problem = _why(err)
    return f"{problem} (after {attempt + 1} attempt{'s' if attempt else ''})"


def _why(err) -> str:
    """What went wrong, in words that cannot hold the URL (ValueError's message may)."""
    if isinstance(err, TimeoutError) or "timed out" in str(err):
        return f"timed out after {TIMEOUT:g}s"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return type(err).__name__ if isinstance(err, BaseException) else "unreachable"


def as_json(payload: dict) -> bytes:
    return json.dumps(payload).encode()


class SentLog:
    """Keys of events already sent from this clone, in the git dir (never committed): a
    re-run, or `run --wait` stepping again, does not resend."""

    def __init__(self, path):
        self.path = path
        try:
            self.keys = set(path.read_text().splitlines())
        except OSError:
            self.keys = set()

    def seen(self, key: str) -> bool:
        return key in self.keys

    def add(self, key: str) -> None:
        self.keys.add(key)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as handle:
                handle.write(key + "\n")
        except OSError:
            pass  # no record: at worst the event is sent again by a later run
