"""`webhook: {url | urlFrom, headers, headersFrom}`: the event as one JSON object, POSTed."""

from __future__ import annotations

from rollout.notify import Event, Request, as_json, secret


def request(config, event: Event, link: str | None) -> Request:
    url = config.url if config.url is not None else secret(config.urlFrom, "webhook urlFrom")
    headers = dict(config.headers)
    headers.update({name: secret(ref, f"webhook header {name}") for name, ref in config.headersFrom.items()})
    return Request(url, as_json(event.as_dict(link)), headers)
