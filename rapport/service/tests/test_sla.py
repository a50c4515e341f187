"""Business-hours arithmetic, with expectations worked out by hand (comments show how)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from rapport.service import sla

UTC = dt.UTC
H = dt.timedelta(hours=1)
NINE_TO_FIVE = {str(d): [["09:00", "17:00"]] for d in range(5)}  # Monday-Friday


def cal(zone: str = "UTC", holidays: tuple[str, ...] = ()) -> sla.Calendar:
    return sla.calendar_from_settings(time_zone=zone, weekly_hours=NINE_TO_FIVE, holidays=holidays)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_within_one_day() -> None:
    # Monday 10:00 + 3h -> Monday 13:00.
    assert sla.add_business_time(cal(), utc(2026, 12, 7, 10), 3 * H) == utc(2026, 12, 7, 13)


def test_across_the_weekend() -> None:
    # Friday 15:00 + 4h: 2h on Friday (15-17), 2h on Monday (9-11).
    assert sla.add_business_time(cal(), utc(2026, 12, 4, 15), 4 * H) == utc(2026, 12, 7, 11)


def test_starting_on_a_saturday_counts_from_monday_morning() -> None:
    assert sla.add_business_time(cal(), utc(2026, 12, 5, 10), H) == utc(2026, 12, 7, 10)


def test_before_opening_starts_at_opening() -> None:
    # Tuesday 06:00 + 30 min -> Tuesday 09:30.
    start = utc(2026, 12, 8, 6)
    assert sla.add_business_time(cal(), start, dt.timedelta(minutes=30)) == utc(2026, 12, 8, 9, 30)


def test_exactly_a_full_day_ends_at_closing() -> None:
    assert sla.add_business_time(cal(), utc(2026, 12, 8, 9), 8 * H) == utc(2026, 12, 8, 17)


def test_holidays_are_skipped() -> None:
    # Thursday 24 Dec 16:00 + 2h: 1h on Thursday, Friday 25 Dec is a holiday, then the
    # weekend, so the second hour is Monday 28 Dec 9-10.
    c = cal(holidays=("2026-12-25",))
    assert sla.add_business_time(c, utc(2026, 12, 24, 16), 2 * H) == utc(2026, 12, 28, 10)


def test_time_zone_of_the_calendar() -> None:
    # 07:00 UTC is 08:00 in Berlin (CET, +1): work starts 09:00 CET = 08:00 UTC, + 1h.
    c = cal("Europe/Berlin")
    assert sla.add_business_time(c, utc(2026, 12, 4, 7), H) == utc(2026, 12, 4, 9)


def test_across_spring_forward() -> None:
    # Berlin moves to CEST (+2) on Sunday 29 March 2026. Friday 27 March 15:00 CET (14:00
    # UTC) + 4h: 2h on Friday, 2h on Monday 09:00-11:00 CEST = 07:00-09:00 UTC.
    c = cal("Europe/Berlin")
    due = sla.add_business_time(c, utc(2026, 3, 27, 14), 4 * H)
    assert due == utc(2026, 3, 30, 9)
    assert due.astimezone(ZoneInfo("Europe/Berlin")).hour == 11


def test_across_fall_back() -> None:
    # New York leaves EDT (-4) for EST (-5) on Sunday 1 November 2026. Friday 30 Oct
    # 16:00 EDT (20:00 UTC) + 2h: 1h on Friday, then Monday 09:00-10:00 EST = 15:00 UTC.
    c = cal("America/New_York")
    assert sla.add_business_time(c, utc(2026, 10, 30, 20), 2 * H) == utc(2026, 11, 2, 15)


def test_business_time_between_skips_nights_and_weekends() -> None:
    # Friday 16:00 to Monday 10:00 = 1h + 1h.
    assert sla.business_time_between(cal(), utc(2026, 12, 4, 16), utc(2026, 12, 7, 10)) == 2 * H
    assert sla.business_time_between(
        cal(), utc(2026, 12, 7, 10), utc(2026, 12, 4, 16)
    ) == dt.timedelta(0)


def test_elapsed_without_the_pauses() -> None:
    # Monday 09:00-17:00 is 8h; on hold 10:00-12:00 leaves 6h; a pause still running
    # since 16:00 takes one more hour.
    c = cal()
    day = (utc(2026, 12, 7, 9), utc(2026, 12, 7, 17))
    assert sla.elapsed_with_pauses(c, *day, [(utc(2026, 12, 7, 10), utc(2026, 12, 7, 12))]) == 6 * H
    pauses = [(utc(2026, 12, 7, 10), utc(2026, 12, 7, 12)), (utc(2026, 12, 7, 16), None)]
    assert sla.elapsed_with_pauses(c, *day, pauses) == 5 * H


def test_a_pause_moves_the_due_time_by_the_working_time_left() -> None:
    # Due Monday 13:00; paused Monday 11:00 with 2h left; resumed Tuesday 10:00 -> due
    # Tuesday 12:00. A pause over a weekend: due Fri 16:00, paused Fri 15:00 (1h left),
    # resumed Mon 09:30 -> Mon 10:30.
    c = cal()
    assert sla.due_after_pause(
        c, due=utc(2026, 12, 7, 13), paused_at=utc(2026, 12, 7, 11), resumed_at=utc(2026, 12, 8, 10)
    ) == utc(2026, 12, 8, 12)
    assert sla.due_after_pause(
        c,
        due=utc(2026, 12, 4, 16),
        paused_at=utc(2026, 12, 4, 15),
        resumed_at=utc(2026, 12, 7, 9, 30),
    ) == utc(2026, 12, 7, 10, 30)


def test_a_breached_target_stays_breached_through_a_pause() -> None:
    due = utc(2026, 12, 7, 10)
    assert (
        sla.due_after_pause(
            cal(), due=due, paused_at=utc(2026, 12, 7, 11), resumed_at=utc(2026, 12, 8, 9)
        )
        == due
    )


def test_round_the_clock_and_overnight_hours() -> None:
    assert sla.add_business_time(sla.ALWAYS, utc(2026, 12, 5, 22), 30 * H) == utc(2026, 12, 7, 4)
    # A night shift 22:00-24:00 every day: Monday 23:00 + 2h -> 1h Monday, 1h Tuesday 22-23.
    night = sla.calendar_from_settings(
        time_zone="UTC", weekly_hours={str(d): [["22:00", "24:00"]] for d in range(7)}, holidays=[]
    )
    assert sla.add_business_time(night, utc(2026, 12, 7, 23), 2 * H) == utc(2026, 12, 8, 23)


def test_bad_calendars_are_refused() -> None:
    with pytest.raises(ValueError):
        sla.calendar_from_settings(
            time_zone="UTC", weekly_hours={"0": [["17:00", "09:00"]]}, holidays=[]
        )
    with pytest.raises(ValueError):
        sla.add_business_time(sla.Calendar(), utc(2026, 12, 7), H)
    with pytest.raises(ValueError):
        sla.add_business_time(cal(), dt.datetime(2026, 12, 7), H)
