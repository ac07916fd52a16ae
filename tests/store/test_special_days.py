"""Dates with special hours or closed (holidays): parsing, `check_slot`, `alternatives`, and the
property that no alternative ever falls on a closed date or outside a special date's hours."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import BusinessSettings, InvalidHours
from store.availability import alternatives, check_slot
from store.hours import parse_opening_hours, parse_special_days, to_minutes
from tests.support.store import ISRAELI_HOURS, NOW, TZ


def business(special_days: object = None, **overrides: object) -> BusinessSettings:
    fields: dict[str, object] = {
        "id": 1,
        "name": "מספרת דנה",
        "timezone": "Asia/Jerusalem",
        "opening_hours": parse_opening_hours(ISRAELI_HOURS),
        "slot_size_min": 30,
        "min_notice_min": 60,
        "horizon_days": 30,
        "capacity": 1,
        "special_days": parse_special_days(special_days),
    }
    fields.update(overrides)
    return BusinessSettings(**fields)  # type: ignore[arg-type]


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def test_special_days_are_normalised_and_sorted() -> None:
    parsed = parse_special_days({"2026-12-25": [], "2026-12-24": "09:00-13:00", " 2026-12-01 ": [["10:00", "12:00"]]})
    assert parsed == {"2026-12-01": [("10:00", "12:00")], "2026-12-24": [("09:00", "13:00")], "2026-12-25": []}
    assert list(parsed) == sorted(parsed)
    assert parse_special_days(None) == {} and parse_special_days('{"2026-12-25": []}') == {"2026-12-25": []}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"25/12/2026": []}, "not a date"),
        ({"2026-02-30": []}, "not a date"),
        ({"2026-12-24": [["13:00", "09:00"]]}, "closes before it opens"),
        ({"2026-12-24": [["09:00", "12:00"], ["11:00", "14:00"]]}, "overlap"),
        (["2026-12-25"], "must be an object"),
    ],
)
def test_bad_special_days_are_refused_with_the_reason(raw: object, message: str) -> None:
    with pytest.raises(InvalidHours, match=message):
        parse_special_days(raw)


def test_a_closed_date_refuses_every_slot_and_its_neighbours_stay_open() -> None:
    settings = business({"2026-11-25": []})  # a Wednesday
    assert check_slot(settings, [], at(25, 10), NOW).reason == "closed_day"
    assert check_slot(settings, [], at(26, 10), NOW).ok


def test_special_hours_replace_the_weekday_hours() -> None:
    settings = business({"2026-11-25": "09:00-12:00", "2026-11-28": [["10:00", "11:00"]]})  # Wed short; Sat open
    assert check_slot(settings, [], at(25, 11, 30), NOW).ok
    assert check_slot(settings, [], at(25, 12), NOW).reason == "outside_hours"
    assert check_slot(settings, [], at(28, 10, 30), NOW).ok


def test_alternatives_skip_a_closed_date() -> None:
    settings = business({"2026-11-25": []})
    assert alternatives(settings, [], at(25, 10), NOW, n=2) == [at(26, 9), at(26, 9, 30)]


dates = st.dates(min_value=dt.date(2026, 11, 24), max_value=dt.date(2026, 12, 26))
minutes = st.integers(0, 47).map(lambda half_hours: half_hours * 30)


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def special_days(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    days: dict[str, list[list[str]]] = {}
    for day in draw(st.lists(dates, max_size=12, unique=True)):
        bounds = sorted(draw(st.lists(minutes, max_size=4, unique=True)))
        ranges = [bounds[i : i + 2] for i in range(0, len(bounds) - 1, 2)]
        days[day.isoformat()] = [[clock(lo), clock(hi)] for lo, hi in ranges]
    return days


@settings(max_examples=150, deadline=None)
@given(special_days(), dates, st.integers(0, 47), st.integers(1, 6))
def test_no_alternative_falls_on_a_closed_date_or_outside_a_special_dates_hours(
    days: dict[str, list[list[str]]], day: dt.date, half_hour: int, n: int
) -> None:
    settings = business(days)
    start = dt.datetime(day.year, day.month, day.day, half_hour // 2, 30 * (half_hour % 2), tzinfo=TZ)
    for slot in alternatives(settings, [], start, NOW, n):
        local = slot.astimezone(TZ)
        special = settings.special_days.get(local.date().isoformat())
        if special is None:
            continue
        assert special, f"{local} is on a closed date"
        offset = local.hour * 60 + local.minute
        assert any(to_minutes(lo, "") <= offset and offset + 30 <= to_minutes(hi, "") for lo, hi in special), (
            f"{local} is outside {local.date()}'s special hours {special}"
        )
        assert check_slot(settings, [], slot, NOW).ok
