"""Change windows: when a wave may start. Pure time arithmetic: the caller passes `now`
(an aware datetime); nothing here reads a clock.

A window opens at each occurrence of its `schedule` (an RFC 5545 RRULE, read by
python-dateutil, or a 5-field cron expression, read by croniter) in its `timeZone`
(zoneinfo), and stays open for `duration` of real time (a 2h window that opens at 01:00
on the night clocks go forward still lasts two hours). A wave may start inside an allow
window and outside every deny window; with no allow window, any time outside the deny
windows. Gates and reverts are never held by a window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from waves.durations import Duration
from waves.model_config import STRICT
from waves.problems import Problem, few
from waves.templates import MissingLabel, check_template, render

UTC = timezone.utc
LOOKBACK = timedelta(days=8)  # an RRULE without DTSTART is anchored at midnight this long before now
HORIZON = timedelta(days=400)  # next_opening looks this far ahead


class Window(BaseModel):
    model_config = STRICT

    kind: Literal["allow", "deny"] = Field(description="allow: waves may start inside; deny: never inside.")
    schedule: str = Field(description="When it opens: an RFC 5545 RRULE (FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9) "
                                      "or a 5-field cron expression (0 9 * * 1-5), in timeZone.")
    duration: Duration = Field(description="How long it stays open after each opening (2h, 30m).")
    timeZone: str = Field(default="UTC", description="IANA zone (Europe/Berlin), or a template such as "
                                                     "{labels.timezone}: every cluster of a wave must share it; a "
                                                     "label spells the '/' as '.' (Europe.Berlin).")

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, text: str) -> str:
        _parse(text.strip())  # raises ValueError with the reason
        return text.strip()

    @field_validator("duration")
    @classmethod
    def _duration(cls, seconds: int) -> int:
        if seconds <= 0:
            raise ValueError("must be longer than 0s")
        return seconds

    @field_validator("timeZone")
    @classmethod
    def _zone(cls, name: str) -> str:
        if "{" in name:
            return check_template(name)
        zone_problem(name)
        return name


def zone_problem(name: str) -> None:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (such as Europe/Berlin or UTC)") from None


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_CRON = re.compile(r"^\S+(\s+\S+){4}$")


@lru_cache(maxsize=256)
def _parse(text: str) -> tuple[str, str]:
    """('cron' | 'rrule', the normalised text); ValueError with the reason."""
    if _CRON.match(text) and not text.upper().startswith(("FREQ=", "RRULE:", "DTSTART")):
        from croniter import croniter

        if not croniter.is_valid(text):
            raise ValueError(f"{text!r} is not a valid 5-field cron expression")
        return "cron", text
    from dateutil.rrule import rrulestr

    body = text if "\n" in text or text.upper().startswith(("RRULE:", "DTSTART")) else "RRULE:" + text
    try:
        rrulestr(body, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{text!r} is neither a 5-field cron expression nor an RRULE ({err})") from None
    return "rrule", body


def _has_dtstart(body: str) -> bool:
    return "DTSTART" in body.upper()


def _occurrence_before(window: Window, zone: str, now: datetime) -> datetime | None:
    """The latest opening at or before `now` (aware, UTC), or None."""
    kind, body = _parse(window.schedule)
    tz = _zone(zone)
    local = now.astimezone(tz)
    if kind == "cron":
        from croniter import croniter

        start = croniter(body, local + timedelta(seconds=1)).get_prev(datetime)
        return start.astimezone(UTC)
    rule = _rule(body, tz, local)
    start = rule.before(local.replace(tzinfo=None), inc=True)
    return _localize(start, tz) if start is not None else None


def _occurrence_after(window: Window, zone: str, now: datetime) -> datetime | None:
    """The first opening strictly after `now`, or None."""
    kind, body = _parse(window.schedule)
    tz = _zone(zone)
    local = now.astimezone(tz)
    if kind == "cron":
        from croniter import croniter

        return croniter(body, local).get_next(datetime).astimezone(UTC)
    rule = _rule(body, tz, local)
    start = rule.after(local.replace(tzinfo=None), inc=False)
    # a wall time repeated or skipped by DST may map to an instant not after now
    while start is not None and _localize(start, tz) <= now:
        start = rule.after(start, inc=False)
    return _localize(start, tz) if start is not None else None


def _rule(body: str, tz: ZoneInfo, local: datetime):
    """The rule in naive wall time of `tz` (the RRULE's own terms: BYHOUR=9 is 09:00 there)."""
    from dateutil.rrule import rrulestr

    if _has_dtstart(body):
        return rrulestr(body, ignoretz=True)
    anchor = (local - LOOKBACK).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    return rrulestr(body, dtstart=anchor)


def _localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """A wall time of `tz` as an instant. fold=0 (PEP 495): a time skipped by DST (02:30 the
    night clocks jump 02:00 -> 03:00) is read with the offset before the jump, i.e. 03:30
    after it; a repeated time is its first occurrence."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _active_until(window: Window, zone: str, now: datetime) -> datetime | None:
    """When the opening that covers `now` closes, or None when the window is shut."""
    start = _occurrence_before(window, zone, now)
    if start is None:
        return None
    end = start + timedelta(seconds=window.duration)
    return end if end > now else None


@dataclass(frozen=True)
class WindowVerdict:
    open: bool
    next_open: datetime | None = None  # when shut: the next instant a wave may start (UTC)
    zone: str = "UTC"
    reason: str = ""

    def describe(self) -> str:
        if self.open:
            return "inside its change window"
        if self.next_open is None:
            return f"outside its change window ({self.reason}); no opening within {HORIZON.days} days"
        local = self.next_open.astimezone(_zone(self.zone))
        return (f"outside its change window ({self.reason}); next opening "
                f"{self.next_open.strftime('%Y-%m-%d %H:%M UTC')} ({local.strftime('%Y-%m-%d %H:%M')} {self.zone})")


def judge(windows: tuple[Window, ...], now: datetime) -> WindowVerdict:
    """May a wave whose (resolved) windows are `windows` start at `now` (aware)?"""
    now = now.astimezone(UTC)
    zone = windows[0].timeZone if windows else "UTC"
    blocked = _blocked(windows, now)
    if blocked is None:
        return WindowVerdict(True, zone=zone)
    return WindowVerdict(False, next_opening(windows, now), zone, blocked)


def _blocked(windows: tuple[Window, ...], at: datetime) -> str | None:
    for window in windows:
        if window.kind == "deny" and _active_until(window, window.timeZone, at):
            return f"deny window {window.schedule!r} ({window.timeZone})"
    allows = [w for w in windows if w.kind == "allow"]
    if allows and not any(_active_until(w, w.timeZone, at) for w in allows):
        return "no allow window is open"
    return None


def next_opening(windows: tuple[Window, ...], now: datetime) -> datetime | None:
    """The first instant at or after `now` when a wave may start, within HORIZON."""
    at = now.astimezone(UTC)
    limit = at + HORIZON
    while at <= limit:
        if _blocked(windows, at) is None:
            return at
        candidates = []
        for window in windows:
            until = _active_until(window, window.timeZone, at)
            if window.kind == "deny" and until is not None:
                candidates.append(until)
            elif window.kind == "allow" and until is None:
                start = _occurrence_after(window, window.timeZone, at)
                if start is not None:
                    candidates.append(start)
        if not candidates:
            return None
        at = min(candidates)
    return None


def resolve(windows: tuple[Window, ...], clusters: list[tuple[str, dict]], loc: tuple) -> tuple[tuple[Window, ...], list[Problem]]:
    """A wave's windows with templated time zones filled in from its clusters' labels.
    A template that gives the clusters different zones (or none) is a problem naming them."""
    out, problems = [], []
    for index, window in enumerate(windows):
        if "{" not in window.timeZone:
            out.append(window)
            continue
        where = loc + (index, "timeZone")
        zones: dict[str, list[str]] = {}
        missing = []
        for name, labels in clusters:
            try:
                zones.setdefault(label_zone(render(window.timeZone, name, labels)), []).append(name)
            except MissingLabel as err:
                missing.append(f"{name} (no label {err.key})")
        if missing:
            problems.append(Problem(f"timeZone {window.timeZone!r}: cannot fill it in for " + few(missing), where))
            continue
        if len(zones) > 1:
            mix = "; ".join(f"{zone}: {few(names)}" for zone, names in sorted(zones.items()))
            problems.append(Problem(f"timeZone {window.timeZone!r} mixes time zones in one wave ({mix}): "
                                    "split the wave (groupBy the zone's label) or name one zone", where))
            continue
        if not zones:  # a wave without clusters
            out.append(window.model_copy(update={"timeZone": "UTC"}))
            continue
        zone = next(iter(zones))
        try:
            zone_problem(zone)
        except ValueError as err:
            problems.append(Problem(f"timeZone {window.timeZone!r} gives {err} for {few(zones[zone])}", where))
            continue
        out.append(window.model_copy(update={"timeZone": zone}))
    return tuple(out), problems


def label_zone(value: str) -> str:
    """A zone as a Kubernetes label value can hold it: no '/', so `Europe.Berlin` (IANA names
    never hold a '.') means Europe/Berlin."""
    return value.replace(".", "/")

