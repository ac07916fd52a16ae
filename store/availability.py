"""Availability rules over a list of busy intervals: `check_slot` and `alternatives`. Pure, no database.

All arithmetic is done on UTC instants: Python compares and adds aware datetimes that share a
`ZoneInfo` by wall clock, which is wrong across daylight-saving changes. Opening hours are local
wall-clock times, turned into instants per local date; the slot grid runs in real elapsed minutes
from the opening instant of each range, so a DST change inside a range shortens or lengthens the
day by one hour without shifting the grid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo

from .hours import ranges_on
from .records import BusinessSettings, SlotCheck

UTC = dt.UTC

Interval = tuple[dt.datetime, dt.datetime]
"""A busy `[start, end)` of an active appointment, aware datetimes."""

REASONS: tuple[str, ...] = (
    "in_past",
    "too_soon",
    "beyond_horizon",
    "closed_day",
    "outside_hours",
    "not_on_slot_grid",
    "taken",
)
"""Every reason `check_slot` can give, in the order they are tested."""

OK = SlotCheck(ok=True, reason=None)


def _local_instant(day: dt.date, minutes: int, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall-clock time (`minutes` may be 1440: next midnight).

    An ambiguous time (autumn, clocks go back) is its first occurrence; a time that does not exist
    (spring, clocks jump forward) is the instant of the jump.
    """
    day = day + dt.timedelta(days=minutes // (24 * 60))
    minutes %= 24 * 60
    wall = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)
    instant = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: an ambiguous time is its first occurrence
    seen = instant.astimezone(tz).replace(tzinfo=None)
    if seen != wall:
        # The clocks jump over this wall time (spring forward): it means the moment of the jump.
        instant -= seen - wall
        while instant.astimezone(tz).replace(tzinfo=None) < wall:
            instant += dt.timedelta(minutes=1)
    return instant


def open_ranges(settings: BusinessSettings, day: dt.date) -> list[Interval]:
    """The open ranges of a local date as UTC instants."""
    tz = ZoneInfo(settings.timezone)
    return [
        (_local_instant(day, opens, tz), _local_instant(day, closes, tz))
        for opens, closes in ranges_on(settings.opening_hours, day, settings.special_days)
    ]


def day_slots(settings: BusinessSettings, day: dt.date) -> list[dt.datetime]:
    """Every grid start of a local date whose appointment fits in its range (UTC instants)."""
    length = dt.timedelta(minutes=settings.slot_size_min)
    slots: list[dt.datetime] = []
    for opens, closes in open_ranges(settings, day):
        start = opens
        while start + length <= closes:
            slots.append(start)
            start += length
    return slots


def max_overlap(busy: Sequence[Interval], start: dt.datetime, end: dt.datetime) -> int:
    """The largest number of busy intervals that cover one instant of `[start, end)`."""
    events: list[tuple[dt.datetime, int]] = []
    for busy_start, busy_end in busy:
        lo, hi = max(busy_start, start), min(busy_end, end)
        if lo < hi:
            events += [(lo, 1), (hi, -1)]
    # Ends sort before starts at the same instant: back-to-back appointments do not overlap.
    events.sort(key=lambda event: (event[0], event[1]))
    depth = deepest = 0
    for _, step in events:
        depth += step
        deepest = max(deepest, depth)
    return deepest


def _local_date(instant: dt.datetime, settings: BusinessSettings) -> dt.date:
    return instant.astimezone(ZoneInfo(settings.timezone)).date()


def last_bookable_date(settings: BusinessSettings, now: dt.datetime) -> dt.date:
    return _local_date(now, settings) + dt.timedelta(days=settings.horizon_days)


def check_slot(settings: BusinessSettings, busy: Sequence[Interval], start: dt.datetime, now: dt.datetime) -> SlotCheck:
    """Whether an appointment of `slot_size_min` may start at `start`; the first failing rule is the reason."""
    if start.tzinfo is None or now.tzinfo is None:
        raise ValueError("check_slot needs timezone-aware datetimes")
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    end = start + dt.timedelta(minutes=settings.slot_size_min)
    if start < now:
        return SlotCheck(False, "in_past")
    if start < now + dt.timedelta(minutes=settings.min_notice_min):
        return SlotCheck(False, "too_soon")
    day = _local_date(start, settings)
    if day > last_bookable_date(settings, now):
        return SlotCheck(False, "beyond_horizon")
    ranges = open_ranges(settings, day)
    if not ranges:
        return SlotCheck(False, "closed_day")
    opening = next((opens for opens, closes in ranges if opens <= start and end <= closes), None)
    if opening is None:
        return SlotCheck(False, "outside_hours")
    if (start - opening) % dt.timedelta(minutes=settings.slot_size_min):
        return SlotCheck(False, "not_on_slot_grid")
    if max_overlap(busy, start, end) >= settings.capacity:
        return SlotCheck(False, "taken")
    return OK


def _candidate_days(settings: BusinessSettings, requested: dt.date, now: dt.datetime) -> Iterator[dt.date]:
    """The requested date, then the following ones up to the horizon; past the horizon, backwards from it."""
    first, last = _local_date(now, settings), last_bookable_date(settings, now)
    one_day = dt.timedelta(days=1)
    if requested > last:
        day = last
        while day >= first:
            yield day
            day -= one_day
        return
    day = max(requested, first)
    while day <= last:
        yield day
        day += one_day


def alternatives(
    settings: BusinessSettings, busy: Sequence[Interval], start: dt.datetime, now: dt.datetime, n: int = 3
) -> list[dt.datetime]:
    """Up to `n` free, valid starts nearest to `start`: same day first (closest first), then following days.

    When `start` is beyond the horizon the latest bookable slots are offered instead, latest first.
    Every returned start passes `check_slot`, and the requested start itself is never returned.
    Times are in the business's time zone.
    """
    tz = ZoneInfo(settings.timezone)
    requested = start.astimezone(UTC)
    found: list[dt.datetime] = []
    for day in _candidate_days(settings, _local_date(requested, settings), now):
        slots = [slot for slot in day_slots(settings, day) if slot != requested]
        slots.sort(key=lambda slot: (abs(slot - requested), slot))
        for slot in slots:
            if check_slot(settings, busy, slot, now).ok:
                found.append(slot.astimezone(tz))
                if len(found) == n:
                    return found
    return found
