"""The one configuration of waves' pydantic models: unknown keys refused (a typo in a
policy is an error, never a silent default), values frozen once validated.

`defer_build`: a model's validator is built the first time it validates, not when its
class is made. A step that reuses a policy validated before (rollout/reuse.py: unpickled,
never validated again) then builds none of them: ~11 ms off a warm `status` or waiting
`run` (docs/performance.md); a `plan` validates and builds them as before."""

from pydantic import ConfigDict

STRICT = ConfigDict(extra="forbid", frozen=True, defer_build=True)
FROZEN = ConfigDict(frozen=True, defer_build=True)  # data made by the code, not read from a user's file
