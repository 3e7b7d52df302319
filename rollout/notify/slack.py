"""`slack: {webhookURL | urlFrom}`: a Slack incoming webhook, the event as Block Kit
blocks (a section, then a context line), with `text` as the notification's fallback."""

from __future__ import annotations

from rollout.notify import Event, Request, as_json, secret

ICONS = {"advanced": ":arrow_forward:", "passed": ":white_check_mark:", "failed": ":x:", "reverted": ":rewind:",
         "halted": ":octagonal_sign:", "paused": ":double_vertical_bar:", "resumed": ":arrow_forward:",
         "complete": ":tada:"}


def request(config, event: Event, link: str | None) -> Request:
    url = config.webhookURL if config.webhookURL is not None else secret(config.urlFrom, "slack urlFrom")
    lines = [f"{ICONS.get(event.kind, '')} *{_escape(event.headline())}*"]
    if event.clusters:
        lines.append(_escape(event.clusters_text()))
    if event.reason:
        lines.append(_escape(event.reason))
    context = f"commit <{link}|{event.commit[:12]}>" if link else (f"commit `{event.commit[:12]}`" if event.commit else "")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return Request(url, as_json({"text": event.headline(), "blocks": blocks}))


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
