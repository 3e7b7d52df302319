"""`spec.notify`: where a rollout tells people what happened (docs/operating.md). The
models only; sending is the shell's (rollout/notify/, one module per sink). Secrets are
named, never written: `urlFrom: {env: SLACK_WEBHOOK_URL}`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from waves.model_config import STRICT

EVENTS = ("advanced", "passed", "failed", "reverted", "halted", "paused", "resumed", "complete")
EventName = Literal["advanced", "passed", "failed", "reverted", "halted", "paused", "resumed", "complete"]


class _Strict(BaseModel):
    model_config = STRICT


class FromEnv(_Strict):
    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Environment variable holding the value.")


class _Target(_Strict):
    @model_validator(mode="after")
    def _one_url(self):
        given = [k for k in self._url_keys() if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {' and '.join(self._url_keys())}")
        return self


class WebhookSink(_Target):
    """A generic JSON event, POSTed."""

    url: str | None = Field(default=None, description="Endpoint (prefer urlFrom: a URL may hold a token).")
    urlFrom: FromEnv | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers (not secret).")
    headersFrom: dict[str, FromEnv] = Field(default_factory=dict, description="Headers whose values are secrets.")

    @staticmethod
    def _url_keys() -> tuple[str, ...]:
        return ("url", "urlFrom")


class SlackSink(_Target):
    """A Slack incoming webhook: the event as blocks."""

    webhookURL: str | None = Field(default=None, description="Incoming-webhook URL (prefer urlFrom: it is a secret).")
    urlFrom: FromEnv | None = None

    @staticmethod
    def _url_keys() -> tuple[str, ...]:
        return ("webhookURL", "urlFrom")


class NotifySpec(_Strict):
    """Exactly one sink; optionally which events and a link to each commit."""

    webhook: WebhookSink | None = None
    slack: SlackSink | None = None
    events: tuple[EventName, ...] = Field(default=EVENTS, description="Events to send (default: all).")
    linkTemplate: str | None = Field(default=None, description="Link to an event's commit, with {commit}, e.g. "
                                                               "https://git.example.com/org/fleet/commit/{commit}.")

    @model_validator(mode="after")
    def _one(self) -> "NotifySpec":
        if (self.webhook is None) == (self.slack is None):
            raise ValueError("each notify entry names exactly one sink: webhook or slack")
        return self

    @property
    def sink(self) -> str:
        return "webhook" if self.webhook is not None else "slack"

    @property
    def config(self):
        return self.webhook if self.webhook is not None else self.slack
