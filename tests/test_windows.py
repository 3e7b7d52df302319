"""Change windows: pure time arithmetic (waves/windows.py), DST included, and the
templated time zone of a wave."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import examples
from waves.windows import Window, judge, next_opening, resolve

UTC = timezone.utc


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


BUSINESS_BERLIN = Window(kind="allow", schedule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
                         duration="8h", timeZone="Europe/Berlin")


def test_allow_window_opens_at_local_business_hours_in_winter_and_summer():
    # CET (UTC+1) in January, CEST (UTC+2) in July: 09:00 Berlin is 08:00 then 07:00 UTC
    assert not judge((BUSINESS_BERLIN,), at(2026, 1, 12, 7, 59)).open
    assert judge((BUSINESS_BERLIN,), at(2026, 1, 12, 8, 0)).open
    assert judge((BUSINESS_BERLIN,), at(2026, 7, 13, 7, 0)).open
    assert not judge((BUSINESS_BERLIN,), at(2026, 7, 13, 15, 0)).open  # 17:00 Berlin: closed after 8h
    assert not judge((BUSINESS_BERLIN,), at(2026, 1, 16, 10, 0)).open  # a Friday


def test_next_opening_across_the_spring_forward_weekend():
    # Friday 27 March 2026 11:00 CET; clocks go forward on Sunday 29 March; Monday opens 09:00 CEST
    verdict = judge((BUSINESS_BERLIN,), at(2026, 3, 27, 10, 0))
    assert not verdict.open
    assert verdict.next_open == at(2026, 3, 30, 7, 0)
    assert "2026-03-30 07:00 UTC (2026-03-30 09:00 Europe/Berlin)" in verdict.describe()


def test_a_window_opening_in_the_skipped_hour_opens_after_the_gap_and_lasts_its_real_duration():
    nightly = Window(kind="allow", schedule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", duration="1h",
                     timeZone="Europe/Berlin")
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist
    opening = next_opening((nightly,), at(2026, 3, 28, 12, 0))
    assert opening == at(2026, 3, 29, 1, 30)  # 03:30 CEST, just past the gap
    assert judge((nightly,), opening + timedelta(minutes=59)).open
    assert not judge((nightly,), opening + timedelta(minutes=60)).open


def test_fall_back_night_a_two_hour_window_lasts_two_real_hours():
    # 25 October 2026: 03:00 CEST falls back to 02:00 CET; a window opening 01:00 CEST (23:00 UTC)
    nightly = Window(kind="allow", schedule="0 1 * * *", duration="2h", timeZone="Europe/Berlin")
    assert judge((nightly,), at(2026, 10, 24, 23, 0)).open
    assert judge((nightly,), at(2026, 10, 25, 0, 59)).open
    assert not judge((nightly,), at(2026, 10, 25, 1, 0)).open  # 02:00 CET: two real hours later
    # the next night, in winter time, 01:00 CET is 00:00 UTC
    assert next_opening((nightly,), at(2026, 10, 25, 1, 0)) == at(2026, 10, 26, 0, 0)


def test_cron_deny_window_over_the_weekend_in_new_york_across_the_dst_change():
    weekend = Window(kind="deny", schedule="0 0 * * 6", duration="2d", timeZone="America/New_York")
    # 31 Oct 2026 (Saturday) EDT; clocks fall back on Sunday 1 Nov: the weekend is 49 real hours
    assert judge((weekend,), at(2026, 10, 30, 20, 0)).open  # Friday 16:00 EDT
    shut = judge((weekend,), at(2026, 10, 31, 12, 0))
    assert not shut.open and "deny window" in shut.reason
    assert shut.next_open == at(2026, 11, 2, 4, 0)  # Saturday 00:00 EDT + 48 real hours (Sunday 23:00 EST)
    assert judge((weekend,), at(2026, 11, 2, 4, 0)).open


def test_deny_wins_over_allow_and_no_allow_window_means_always_but_deny():
    freeze = Window(kind="deny", schedule="FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
                    duration="14d", timeZone="UTC")
    assert judge((freeze,), at(2026, 6, 1)).open
    assert not judge((BUSINESS_BERLIN, freeze), at(2026, 12, 21, 9, 0)).open
    assert judge((BUSINESS_BERLIN, freeze), at(2026, 12, 21, 9, 0)).next_open == at(2027, 1, 4, 8, 0)
    assert judge((), at(2026, 6, 1)).open


@pytest.mark.parametrize("fields, message", [
    ({"schedule": "every monday"}, "neither a 5-field cron expression nor an RRULE"),
    ({"schedule": "61 * * * *"}, "not a valid 5-field cron"),
    ({"timeZone": "Mars/Olympus"}, "not an IANA time zone"),
    ({"timeZone": "{labels.tz"}, "unbalanced brace"),
    ({"duration": "0s"}, "longer than 0s"),
    ({"kind": "maybe"}, "'allow' or 'deny'"),
])
def test_bad_windows_are_refused_with_the_reason(fields, message):
    with pytest.raises(ValidationError) as err:
        Window(**{"kind": "allow", "schedule": "0 9 * * 1-5", "duration": "2h", **fields})
    assert message in str(err.value)


def test_templated_zone_fills_in_one_zone_and_names_the_clusters_of_a_mix():
    window = Window(kind="allow", schedule="0 9 * * 1-5", duration="8h", timeZone="{labels.timezone}")
    same = [("a", {"timezone": "Asia.Tokyo"}), ("b", {"timezone": "Asia.Tokyo"})]  # a label cannot hold '/'

    (resolved,), problems = resolve((window,), same, ("spec", "windows"))
    assert (resolved.timeZone, problems) == ("Asia/Tokyo", [])
    mixed = same + [("c", {"timezone": "Europe.Paris"})]
    _, (problem,) = resolve((window,), mixed, ("spec", "windows"))
    assert "mixes time zones in one wave (Asia/Tokyo: a, b; Europe/Paris: c)" in problem.message
    assert problem.loc == ("spec", "windows", 0, "timeZone")
    _, (missing,) = resolve((window,), [("d", {})], ("spec", "windows"))
    assert "d (no label timezone)" in missing.message


WINDOWS = st.lists(st.builds(
    Window, kind=st.sampled_from(["allow", "deny"]),
    schedule=st.sampled_from(["0 9 * * 1-5", "30 2 * * *", "0 0 * * 6", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=6",
                              "FREQ=DAILY;BYHOUR=14;BYMINUTE=15"]),
    duration=st.sampled_from(["30m", "2h", "8h", "2d"]),
    timeZone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"])),
    min_size=1, max_size=3)


@settings(max_examples=examples(40), deadline=None)
@given(windows=WINDOWS, minutes=st.integers(0, 60 * 24 * 365))
def test_next_opening_is_open_and_nothing_before_it_is(windows, minutes):
    now = at(2026, 1, 1) + timedelta(minutes=minutes)
    verdict = judge(tuple(windows), now)
    if verdict.open:
        assert verdict.next_open is None
        return
    opening = verdict.next_open
    if opening is None:  # an allow window always shadowed by a deny window
        return
    assert opening > now and judge(tuple(windows), opening).open
    step = (opening - now) / 20
    assert all(not judge(tuple(windows), now + step * i).open for i in range(1, 20))
