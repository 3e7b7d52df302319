"""A revert lands while the remote stays busy (issue 18: reverts publish with backoff and
more attempts than advances). The bare remote's pre-receive hook turns the first pushes
away as a contended ref lock does ("cannot lock ref")."""

from __future__ import annotations

import stat
import time

from test_engine import Fleet, fleet, git, git_identity, pinned, rollout  # noqa: F401  (fixtures)


def busy(remote, refusals: int) -> None:
    hook = remote / "hooks" / "pre-receive"
    count = remote / "refusals"
    count.write_text("0")
    hook.write_text(f"""#!/bin/sh
n=$(cat '{count}')
if [ "$n" -lt {refusals} ]; then
  echo $((n + 1)) > '{count}'
  echo "error: cannot lock ref 'refs/heads/main': is at 0000 but expected 1111" >&2
  exit 1
fi
""")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)


def test_a_revert_outlasts_a_busy_remote_that_makes_an_advance_give_up(fleet):
    a = fleet.clone("a")
    assert rollout(a, "advance", "security-patch").returncode == 0
    busy(fleet.remote, 7)
    gave_up = rollout(a, "advance", "security-patch", now=int(time.time()) + 7200)  # wave 2 and 3: 5 attempts
    assert gave_up.returncode == 1 and "gave up after 5 attempts" in gave_up.stderr, gave_up.stdout + gave_up.stderr
    assert len(fleet.remote_log()) == 2  # fleet-config and wave 1: nothing half-made
    busy(fleet.remote, 7)
    reverted = rollout(a, "revert", "security-patch", "--wave", "1", "--reason", "5xx up")
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    assert fleet.remote_log()[0] == "rollout(security-patch): revert wave 1 canary (v1.4.2)"
    assert (fleet.remote / "refusals").read_text().strip() == "7"  # every refusal taken, then it landed
    assert git(a, "status", "--porcelain") == ""
    assert pinned(a, "dev-us-east") != "v1.4.2"
