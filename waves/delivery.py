"""`spec.delivery`: how a rollout's commits reach the branch the GitOps controllers
follow (docs/delivery.md). The model only; delivering is the shell's (rollout/delivery/,
one module per mode and per forge)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from waves.model_config import STRICT
from waves.notify import FromEnv

MODES = ("push", "pull-request")
PROVIDERS = ("github", "gitlab")


class DeliverySpec(BaseModel):
    model_config = STRICT

    mode: Literal["push", "pull-request"] = Field(
        default="push", description="push: commit to the branch (as before); pull-request: one pull request per wave.")
    provider: Literal["github", "gitlab"] | None = Field(
        default=None, description="The forge (pull-request mode); default: found from the CI variables or the remote URL.")
    autoMerge: bool = Field(
        default=True, description="`rollout run` merges a wave's pull request once it is mergeable and its required "
        "checks are green; false: a person's merge is the approval.")
    mergeMethod: Literal["merge", "squash", "rebase"] = "merge"
    labels: tuple[str, ...] = Field(default=(), description="Labels on every pull request.")
    reviewers: tuple[str, ...] = Field(default=(), description="Reviewers requested on every pull request.")
    draft: bool = False
    revert: Literal["pull-request", "push"] = Field(
        default="pull-request", description="push: reverts go straight to the branch (the bot may push reverts only).")
    revertLabels: tuple[str, ...] = Field(default=("rollout-revert", "urgent"),
                                          description="Labels on a revert's pull request.")
    tokenFrom: FromEnv | None = Field(
        default=None, description="Environment variable holding the forge token (default GITHUB_TOKEN / GITLAB_TOKEN).")

    @model_validator(mode="after")
    def _push_takes_no_forge(self):
        if self.mode == "push" and self.provider is not None:
            raise ValueError("provider is for mode: pull-request")
        return self
