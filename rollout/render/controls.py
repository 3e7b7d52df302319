"""The operating controls beside a plan or a status: who paused it and why, and when each
waiting wave's change window next opens (UTC and the wave's zone)."""

from __future__ import annotations

from datetime import datetime, timezone


def _utc(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def controls(plan, hold, state=None) -> dict:
    """{"paused": [...], "windows": [...]}: the windows of waves not yet started (every
    wave with windows when there is no state, as in `rollout plan`)."""
    from zoneinfo import ZoneInfo

    windows = []
    for wave in plan.waves:
        if not wave.windows or wave.empty or (state is not None and state.wave(wave.number).status != "pending"):
            continue
        verdict = hold.window(wave)
        local = verdict.next_open.astimezone(ZoneInfo(verdict.zone)) if verdict.next_open else None
        windows.append({"wave": wave.number, "name": wave.name, "open": verdict.open, "zone": verdict.zone,
                        "nextOpen": _utc(verdict.next_open),
                        "nextOpenLocal": local.strftime("%Y-%m-%dT%H:%M:%S%z") if local else None,
                        "why": "" if verdict.open else verdict.reason})
    paused = [{"policy": p.policy, "by": p.by, "since": _utc(datetime.fromtimestamp(p.since, timezone.utc)),
               "reason": p.reason, "commit": p.commit} for p in hold.pauses]
    return {"paused": paused, "windows": windows}


def lines(plan, hold, state=None) -> list[str]:
    out = [pause.describe() for pause in hold.pauses] + [f"ignored: {i.line()}" for i in hold.ignored]
    for item in controls(plan, hold, state)["windows"]:
        if item["open"]:
            out.append(f"wave {item['wave']} {item['name']}: its change window is open now ({item['zone']})")
        elif item["nextOpen"] is None:
            out.append(f"wave {item['wave']} {item['name']}: no change window opens within 400 days ({item['why']})")
        else:
            utc = datetime.strptime(item["nextOpen"], "%Y-%m-%dT%H:%M:%SZ")
            local = datetime.strptime(item["nextOpenLocal"], "%Y-%m-%dT%H:%M:%S%z")
            out.append(f"wave {item['wave']} {item['name']}: next window opens {utc:%Y-%m-%d %H:%M} UTC "
                       f"({local:%Y-%m-%d %H:%M} {item['zone']})")
    return out
