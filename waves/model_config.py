"""The one configuration of waves' pydantic models: unknown keys refused (a typo in a
policy is an error, never a silent default), values frozen once validated.

`defer_build`: a model's validator is built the first time it validates, not when its
class is made. A step that reuses a policy validated before (rollout/reuse.py: unpickled,
never validated again) then builds none of them: ~11 ms off a warm `status` or waiting
`run` (docs/performance.md); a `plan` validates and builds them as before. Only where
pydantic builds a deferred model under a lock (2.14 and later): before, a first
validation in two threads at once (the gates' observers run in threads) could use a
half-built model's parent validator (pydantic/pydantic#13438)."""

from pydantic import VERSION, ConfigDict

DEFERRED = tuple(int(part) for part in VERSION.split(".")[:2]) >= (2, 14)

STRICT = ConfigDict(extra="forbid", frozen=True, defer_build=DEFERRED)
FROZEN = ConfigDict(frozen=True, defer_build=DEFERRED)  # data made by the code, not read from a user's file
