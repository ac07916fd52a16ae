"""Availability rules (pure): each reason, the slot grid, alternatives, both DST changes in
Asia/Jerusalem, and Hypothesis properties checked against an independent brute-force oracle."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import BusinessSettings
from store.availability import Interval, alternatives, check_slot, day_slots
from store.hours import WEEKDAYS, parse_opening_hours
from tests.support.store import ISRAELI_HOURS, NOW, TOMORROW_18, TZ

UTC = dt.UTC


def business(hours: object = ISRAELI_HOURS, **overrides: object) -> BusinessSettings:
    fields: dict[str, object] = {
        "id": 1,
        "name": "מספרת דנה",
        "timezone": "Asia/Jerusalem",
        "opening_hours": parse_opening_hours(hours),
        "slot_size_min": 30,
        "min_notice_min": 60,
        "horizon_days": 60,
        "capacity": 1,
    }
    fields.update(overrides)
    return BusinessSettings(**fields)  # type: ignore[arg-type]


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


def busy_at(start: dt.datetime, minutes: int = 30) -> Interval:
    return (start, start + dt.timedelta(minutes=minutes))


# -- every reason ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (at(25, 18), None),
        (at(24, 9), "in_past"),
        (at(24, 10, 30), "too_soon"),
        (at(24, 11), None),  # exactly the minimum notice
        (at(28, 18), "closed_day"),  # Saturday
        (at(27, 13), "outside_hours"),  # Friday closes at 13:00
        (at(27, 12, 30), None),  # the last Friday slot ends exactly at closing
        (at(25, 18, 45), "outside_hours"),  # would end after 19:00
        (at(25, 8, 30), "outside_hours"),
        (at(25, 10, 15), "not_on_slot_grid"),
        (at(25, 17), "taken"),
        (dt.datetime(2027, 1, 24, 10, 0, tzinfo=TZ), "beyond_horizon"),
        (dt.datetime(2027, 1, 24, 9, 0, tzinfo=TZ).replace(second=1), "beyond_horizon"),
        (at(25, 10, 0).replace(second=30), "not_on_slot_grid"),
    ],
)
def test_each_reason(start: dt.datetime, reason: str | None) -> None:
    check = check_slot(business(), [busy_at(at(25, 17))], start, NOW)
    assert (check.ok, check.reason) == (reason is None, reason)


def test_horizon_counts_local_days() -> None:
    settings = business(horizon_days=1)
    assert check_slot(settings, [], at(25, 18), NOW).ok
    assert check_slot(settings, [], at(26, 9), NOW).reason == "beyond_horizon"


def test_grid_starts_at_each_range_opening() -> None:
    settings = business({"mon": [["09:15", "10:30"], ["16:10", "17:00"]]}, slot_size_min=20, min_notice_min=0)
    slots = [slot.astimezone(TZ).strftime("%H:%M") for slot in day_slots(settings, dt.date(2026, 11, 30))]
    assert slots == ["09:15", "09:35", "09:55", "16:10", "16:30"]


def test_times_in_another_zone_are_the_same_instant() -> None:
    assert check_slot(business(), [], TOMORROW_18.astimezone(ZoneInfo("America/New_York")), NOW).ok


def test_capacity_allows_parallel_appointments() -> None:
    busy = [busy_at(at(25, 18)), busy_at(at(25, 17, 30), 60)]
    assert check_slot(business(capacity=2), busy, at(25, 18), NOW).reason == "taken"
    assert check_slot(business(capacity=3), busy, at(25, 18), NOW).ok
    # Back-to-back appointments do not overlap.
    assert check_slot(business(capacity=2), [busy_at(at(25, 17, 30)), busy_at(at(25, 18, 30))], at(25, 18), NOW).ok


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_slot(business(), [], TOMORROW_18.replace(tzinfo=None), NOW)


# -- alternatives ------------------------------------------------------------------------


def test_alternatives_same_day_nearest_first() -> None:
    busy = [busy_at(at(25, 17)), busy_at(at(25, 18)), busy_at(at(25, 18, 30))]
    assert alternatives(business(), busy, at(25, 18), NOW) == [at(25, 17, 30), at(25, 16, 30), at(25, 16)]


def test_alternatives_roll_over_to_the_next_open_day() -> None:
    # Friday afternoon: Friday has no later slot close by, Saturday is closed, Sunday opens 09:00.
    found = alternatives(business(), [], at(28, 18), NOW)
    assert found == [at(29, 9), at(29, 9, 30), at(29, 10)]
    assert all(slot.tzinfo == TZ for slot in found)


def test_alternatives_end_of_day_then_next_days() -> None:
    busy = [busy_at(at(25, 18, 30))]
    assert alternatives(business(), busy, at(25, 18, 30), NOW, n=4) == [
        at(25, 18),
        at(25, 17, 30),
        at(25, 17),
        at(25, 16, 30),
    ]


def test_alternatives_beyond_horizon_offer_the_latest_bookable() -> None:
    settings = business(horizon_days=2)
    assert alternatives(settings, [], at(30, 12), NOW, n=2) == [at(26, 18, 30), at(26, 18)]


def test_alternatives_for_a_past_request_start_now() -> None:
    assert alternatives(business(), [], at(20, 10), NOW, n=2) == [at(24, 11), at(24, 11, 30)]


# -- daylight saving in Asia/Jerusalem (2026: forward Fri 27 March 02:00, back Sun 25 October 02:00)


NIGHT_OWL = {day: [["00:00", "06:00"]] for day in WEEKDAYS}


def local_slots(settings: BusinessSettings, day: dt.date) -> list[str]:
    return [slot.astimezone(TZ).strftime("%H:%M%z") for slot in day_slots(settings, day)]


def test_spring_forward_day_has_one_hour_less() -> None:
    settings = business(NIGHT_OWL, min_notice_min=0)
    slots = local_slots(settings, dt.date(2026, 3, 27))
    assert slots[:5] == ["00:00+0200", "00:30+0200", "01:00+0200", "01:30+0200", "03:00+0300"]
    assert len(slots) == 10  # 5 real hours
    assert len(local_slots(settings, dt.date(2026, 3, 26))) == 12


def test_fall_back_day_has_one_hour_more() -> None:
    settings = business(NIGHT_OWL, min_notice_min=0)
    slots = local_slots(settings, dt.date(2026, 10, 25))
    assert slots[:6] == ["00:00+0300", "00:30+0300", "01:00+0300", "01:30+0300", "01:00+0200", "01:30+0200"]
    assert len(slots) == 14  # 7 real hours
    now = dt.datetime(2026, 10, 24, 12, 0, tzinfo=TZ)
    second_one_thirty = dt.datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=TZ)
    assert second_one_thirty.utcoffset() == dt.timedelta(hours=2)
    assert check_slot(settings, [], second_one_thirty, now).ok
    # The first 01:30 is taken; the second one is another instant, still free.
    first = dt.datetime(2026, 10, 25, 1, 30, tzinfo=TZ)
    assert check_slot(settings, [busy_at(first.astimezone(UTC))], second_one_thirty, now).ok
    assert check_slot(settings, [busy_at(first.astimezone(UTC))], first, now).reason == "taken"


def test_a_range_opening_inside_the_spring_gap_opens_at_the_jump() -> None:
    settings = business({"fri": [["02:30", "05:00"]]}, min_notice_min=0)
    assert local_slots(settings, dt.date(2026, 3, 27))[0] == "03:00+0300"


def test_regular_hours_keep_their_wall_clock_across_both_changes() -> None:
    settings = business()
    for day in (dt.date(2026, 3, 26), dt.date(2026, 3, 29), dt.date(2026, 10, 22), dt.date(2026, 10, 25)):
        slots = local_slots(settings, day)
        assert slots[0].startswith("09:00") and slots[-1].startswith("18:30"), (day, slots)
    assert local_slots(settings, dt.date(2026, 3, 29))[0] == "09:00+0300"
    assert local_slots(settings, dt.date(2026, 10, 25))[0] == "09:00+0200"


def test_minimum_notice_counts_real_time_across_the_jump() -> None:
    settings = business(NIGHT_OWL, min_notice_min=60)
    now = dt.datetime(2026, 3, 27, 1, 30, tzinfo=TZ)  # +02:00; one real hour later it is 03:30+03:00
    assert check_slot(settings, [], dt.datetime(2026, 3, 27, 3, 0, tzinfo=TZ), now).reason == "too_soon"
    assert check_slot(settings, [], dt.datetime(2026, 3, 27, 3, 30, tzinfo=TZ), now).ok
    assert alternatives(settings, [], dt.datetime(2026, 3, 27, 3, 0, tzinfo=TZ), now, n=1) == [
        dt.datetime(2026, 3, 27, 3, 30, tzinfo=TZ)
    ]


def test_a_wall_clock_offset_from_before_the_change_is_read_as_its_instant() -> None:
    # "09:00+02:00" on the first summer day is 10:00 local: valid, and the same slot as 10:00+03:00.
    now = dt.datetime(2026, 3, 28, 12, 0, tzinfo=TZ)
    stale = dt.datetime(2026, 3, 29, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert check_slot(business(), [busy_at(at(29, 10, month=3))], stale, now).reason == "taken"


# -- properties --------------------------------------------------------------------------------

ZONES = ("Asia/Jerusalem", "UTC", "America/New_York", "Asia/Kolkata")
DST_DATES = (
    dt.date(2026, 3, 25),
    dt.date(2026, 10, 23),
    dt.date(2026, 3, 6),
    dt.date(2026, 10, 30),
    dt.date(2026, 6, 1),
)


@st.composite
def day_ranges(draw: st.DrawFn) -> list[list[str]]:
    """0–2 ranges between 04:00 and 24:00 on 5-minute marks: no range contains a DST change (those
    are checked by the examples above), so the oracle below can compare wall-clock times."""
    points = sorted(draw(st.sets(st.integers(48, 288), min_size=0, max_size=4)))
    points = points[: len(points) // 2 * 2]
    return [
        [f"{a * 5 // 60:02d}:{a * 5 % 60:02d}", f"{b * 5 // 60:02d}:{b * 5 % 60:02d}"]
        for a, b in zip(points[::2], points[1::2], strict=True)
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BusinessSettings, list[Interval], dt.datetime, dt.datetime]:
    hours = {day: draw(day_ranges()) for day in WEEKDAYS}
    settings = business(
        hours,
        timezone=draw(st.sampled_from(ZONES)),
        slot_size_min=draw(st.sampled_from([15, 20, 30, 45, 60])),
        min_notice_min=draw(st.sampled_from([0, 30, 60, 180])),
        horizon_days=draw(st.integers(1, 10)),
        capacity=draw(st.integers(1, 2)),
    )
    tz = ZoneInfo(settings.timezone)
    base = draw(st.sampled_from(DST_DATES))
    now = dt.datetime.combine(base, dt.time(), tz) + dt.timedelta(minutes=draw(st.integers(0, 3 * 1440)))
    now = now.astimezone(UTC)
    minute = dt.timedelta(minutes=1)
    day = now.astimezone(tz).date() + dt.timedelta(days=draw(st.integers(0, 6)))
    ranges = hours[WEEKDAYS[day.weekday()]]
    if ranges and draw(st.integers(0, 3)):
        # Mostly on the grid: open + k slots, wall-clock arithmetic (no range contains a DST change).
        opens = draw(st.sampled_from(ranges))[0]
        wall = dt.datetime.combine(day, dt.time(int(opens[:2]), int(opens[3:])))
        wall += draw(st.integers(0, 12)) * settings.slot_size_min * minute
        start = wall.replace(tzinfo=tz).astimezone(UTC)
    else:
        start = now + draw(st.integers(-600, 12 * 1440)) * 5 * minute
    intervals = []
    for _ in range(draw(st.integers(0, 4))):
        busy_start = start + draw(st.integers(-24, 24)) * 5 * minute
        intervals.append((busy_start, busy_start + draw(st.integers(1, 18)) * 5 * minute))
    return settings, intervals, start, now


def oracle_accepts(settings: BusinessSettings, busy: list[Interval], start: dt.datetime, now: dt.datetime) -> bool:
    """A brute-force reading of the rules, minute by minute in wall-clock time."""
    tz = ZoneInfo(settings.timezone)
    local = start.astimezone(tz)
    if start < now + dt.timedelta(minutes=settings.min_notice_min):
        return False
    if local.date() > now.astimezone(tz).date() + dt.timedelta(days=settings.horizon_days):
        return False
    minutes = [start + dt.timedelta(minutes=m) for m in range(settings.slot_size_min)]
    for opens, closes in settings.opening_hours[WEEKDAYS[local.weekday()]]:
        o = int(opens[:2]) * 60 + int(opens[3:])
        c = int(closes[:2]) * 60 + int(closes[3:])
        walls = [m.astimezone(tz) for m in minutes]
        inside = all(w.date() == local.date() and o <= w.hour * 60 + w.minute < c for w in walls)
        on_grid = (local.hour * 60 + local.minute - o) % settings.slot_size_min == 0 and start.second == 0
        if inside and on_grid:
            return all(sum(b0 <= m < b1 for b0, b1 in busy) < settings.capacity for m in minutes)
    return False


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_check_slot_agrees_with_the_brute_force_oracle(
    case: tuple[BusinessSettings, list[Interval], dt.datetime, dt.datetime],
) -> None:
    settings_, busy, start, now = case
    assert check_slot(settings_, busy, start, now).ok == oracle_accepts(settings_, busy, start, now)


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(1, 5))
def test_every_alternative_is_bookable_distinct_and_nearest_first_per_day(
    case: tuple[BusinessSettings, list[Interval], dt.datetime, dt.datetime], n: int
) -> None:
    settings_, busy, start, now = case
    found = alternatives(settings_, busy, start, now, n)
    assert len(found) <= n
    assert len(set(found)) == len(found)
    assert start not in found
    for slot in found:
        assert check_slot(settings_, busy, slot, now).ok
        assert oracle_accepts(settings_, busy, slot, now)
    tz = ZoneInfo(settings_.timezone)
    same_day = [slot for slot in found if slot.astimezone(tz).date() == start.astimezone(tz).date()]
    distances = [abs(slot - start) for slot in same_day]
    assert distances == sorted(distances)


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_alternatives_miss_no_closer_slot_on_the_requested_day(
    case: tuple[BusinessSettings, list[Interval], dt.datetime, dt.datetime],
) -> None:
    settings_, busy, start, now = case
    tz = ZoneInfo(settings_.timezone)
    found = alternatives(settings_, busy, start, now, 3)
    day = start.astimezone(tz).date()
    bookable = [s for s in day_slots(settings_, day) if s != start and check_slot(settings_, busy, s, now).ok]
    bookable.sort(key=lambda s: (abs(s - start), s))
    assert [s for s in found if s.astimezone(tz).date() == day] == bookable[:3]
