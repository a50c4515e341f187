"""Business-hours arithmetic for SLA clocks: pure functions, no database.

A calendar is working intervals per weekday in a time zone, minus holidays. Intervals are
turned into aware instants day by day in the calendar's zone (so a 09:00-17:00 day stays
09:00-17:00 local across a DST change) and the arithmetic is done on UTC instants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

UTC = dt.UTC
# How far the search for working time goes before it gives up (a calendar with no hours).
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Calendar:
    time_zone: str = "UTC"
    # weekday (Monday 0) -> [(start, end)] local times, end > start (end 00:00 = midnight).
    weekly: Mapping[int, Sequence[tuple[dt.time, dt.time]]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def has_hours(self) -> bool:
        return any(self.weekly.get(d) for d in range(7))


def _parse_time(text: str) -> dt.time:
    hours, minutes = text.strip().split(":")[:2]
    if int(hours) == 24 and int(minutes) == 0:
        return dt.time(0, 0)
    return dt.time(int(hours), int(minutes))


def calendar_from_settings(
    *, time_zone: str, weekly_hours: Mapping[str, Sequence[Sequence[str]]], holidays: Sequence[str]
) -> Calendar:
    """A Calendar from the stored JSON shape ({"0": [["09:00", "17:00"]]}, ["2026-12-25"])."""
    ZoneInfo(time_zone)  # raises for an unknown zone
    weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for day, intervals in weekly_hours.items():
        spans = []
        for start, end in intervals:
            s, e = _parse_time(start), _parse_time(end)
            if e != dt.time(0, 0) and e <= s:
                raise ValueError(f"Working hours {start}-{end} end before they start.")
            spans.append((s, e))
        weekly[int(day)] = sorted(spans)
    return Calendar(
        time_zone=time_zone,
        weekly=weekly,
        holidays=frozenset(dt.date.fromisoformat(d) for d in holidays),
    )


ALWAYS = Calendar(weekly={d: [(dt.time(0, 0), dt.time(0, 0))] for d in range(7)})


def _local_instant(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _intervals_from(
    calendar: Calendar, start: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Working intervals (UTC) that end after `start`, in order, clipped to begin at it."""
    zone = calendar.zone
    day = start.astimezone(zone).date() - dt.timedelta(days=1)  # an interval may span midnight
    for _ in range(MAX_DAYS):
        if day not in calendar.holidays:
            for s, e in calendar.weekly.get(day.weekday(), ()):
                begin = _local_instant(day, s, zone)
                end_day = day + dt.timedelta(days=1) if e == dt.time(0, 0) else day
                end = _local_instant(end_day, e, zone)
                if end <= start:
                    continue
                yield max(begin, start), end
        day += dt.timedelta(days=1)


def add_business_time(
    calendar: Calendar, start: dt.datetime, duration: dt.timedelta
) -> dt.datetime:
    """The instant when `duration` of working time has passed since `start`."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    if not calendar.has_hours:
        raise ValueError("The calendar has no working hours.")
    remaining = duration
    if remaining <= dt.timedelta(0):
        return start
    for begin, end in _intervals_from(calendar, start):
        span = end - begin
        if remaining <= span:
            return begin + remaining
        remaining -= span
    raise ValueError("No working time within three years of the start.")


def business_time_between(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Working time from `start` to `end` (zero when end <= start)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = dt.timedelta(0)
    if end <= start or not calendar.has_hours:
        return total
    for begin, stop in _intervals_from(calendar, start):
        if begin >= end:
            break
        total += min(stop, end) - begin
    return total


def elapsed_with_pauses(
    calendar: Calendar,
    start: dt.datetime,
    end: dt.datetime,
    pauses: Sequence[tuple[dt.datetime, dt.datetime | None]] = (),
) -> dt.timedelta:
    """Working time from `start` to `end` minus the working time inside the pauses
    (a pause with no end lasts until `end`). Pauses must not overlap."""
    total = business_time_between(calendar, start, end)
    for paused, resumed in pauses:
        lo = max(paused, start)
        hi = min(resumed or end, end)
        total -= business_time_between(calendar, lo, hi)
    return max(total, dt.timedelta(0))


def due_after_pause(
    calendar: Calendar, *, due: dt.datetime, paused_at: dt.datetime, resumed_at: dt.datetime
) -> dt.datetime:
    """Where a due time moves when its clock was paused from `paused_at` to `resumed_at`:
    the working time that was left at the pause is counted again from the resume."""
    left = business_time_between(calendar, paused_at, due)
    if left <= dt.timedelta(0):
        return due  # already breached when it paused: it stays breached
    return add_business_time(calendar, resumed_at, left)
