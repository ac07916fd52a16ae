"""Opening hours: parsing, validation, normalisation and the `working_hours` fallback.

Pure functions, no database. The accepted shapes are documented in docs/booking-rules.md:

* `opening_hours`: an object weekday → list of ranges, each `["HH:MM", "HH:MM"]` or `"HH:MM-HH:MM"`;
  weekdays as `sun`…`sat` or full English names, any case; a missing or empty day is closed.
* `working_hours`: a string of ranges (`"09:00-18:00"`, or `"09:00-13:00,16:00-19:00"`) meaning every
  day but Saturday, or an object in the `opening_hours` shape.
* `special_days`: an object `"YYYY-MM-DD"` → ranges (as for one weekday) for dates whose hours differ
  from their weekday's; an empty list closes the date (a holiday).

Everything is normalised to `OpeningHours`: all seven 3-letter keys, sorted ranges, `"HH:MM"` strings.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Mapping

from .errors import InvalidHours
from .records import OpeningHours, SpecialDays

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Indexed by `date.weekday()`."""

_FULL_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
MINUTES_PER_DAY = 24 * 60


def to_minutes(text: str, where: str) -> int:
    """`"HH:MM"` → minutes since midnight; `"24:00"` is allowed (end of day)."""
    match = _TIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidHours(f"{where}: {text!r} is not a time of day as HH:MM (00:00–24:00)")
    minutes = int(match[1]) * 60 + int(match[2])
    if minutes > MINUTES_PER_DAY:
        raise InvalidHours(f"{where}: {text!r} is after 24:00")
    return minutes


def _format(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_range(raw: object, where: str) -> tuple[int, int]:
    if isinstance(raw, str):
        parts = raw.split("-")
        if len(parts) != 2:
            raise InvalidHours(f"{where}: {raw!r} is not a range HH:MM-HH:MM")
    elif isinstance(raw, list | tuple) and len(raw) == 2:
        parts = list(raw)
    else:
        raise InvalidHours(f"{where}: {raw!r} is not a range [open, close]")
    opens, closes = (to_minutes(part, where) for part in parts)
    if opens >= closes:
        raise InvalidHours(
            f"{where}: range {_format(opens)}-{_format(closes)} closes before it opens "
            "(a range past midnight must be split into two days)"
        )
    return opens, closes


def _parse_day(raw: object, where: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list | tuple):
        raise InvalidHours(f"{where}: expected a list of ranges, got {raw!r}")
    ranges = sorted(_parse_range(item, where) for item in raw)
    for (_, first_close), (second_open, _) in itertools.pairwise(ranges):
        if second_open < first_close:
            raise InvalidHours(f"{where}: ranges overlap around {_format(second_open)}")
    return [(_format(opens), _format(closes)) for opens, closes in ranges]


def _weekday_key(raw: object) -> str:
    key = str(raw).strip().lower()
    if key in WEEKDAYS:
        return key
    if key in _FULL_NAMES:
        return _FULL_NAMES[key]
    raise InvalidHours(f"unknown weekday {raw!r} (use sun, mon, tue, wed, thu, fri, sat)")


def _decode(raw: object, what: str) -> object:
    """Accept JSON text as well as the decoded object (hours often arrive from forms or files)."""
    if isinstance(raw, str) and raw.strip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidHours(f"{what}: invalid JSON ({exc.msg})") from exc
    return raw


def parse_opening_hours(raw: object) -> OpeningHours:
    """Validate and normalise an `opening_hours` object; `None` or `{}` gives seven closed days."""
    raw = _decode(raw, "opening_hours")
    hours: OpeningHours = {day: [] for day in WEEKDAYS}
    if raw is None:
        return hours
    if not isinstance(raw, Mapping):
        raise InvalidHours(f"opening_hours must be an object weekday → ranges, got {raw!r}")
    for key, value in raw.items():
        day = _weekday_key(key)
        hours[day] = _parse_day(value, f"opening_hours.{day}")
    return hours


def parse_working_hours(raw: object) -> OpeningHours:
    """Validate and normalise `working_hours`: a string means every day but Saturday."""
    raw = _decode(raw, "working_hours")
    if raw is None or isinstance(raw, Mapping):
        return parse_opening_hours(raw)
    if isinstance(raw, str):
        ranges = _parse_day(raw, "working_hours")
        return {day: [] if day == "sat" else list(ranges) for day in WEEKDAYS}
    raise InvalidHours(f"working_hours must be a string such as '09:00-18:00' or an object, got {raw!r}")


def parse_special_days(raw: object) -> SpecialDays:
    """Validate and normalise `special_days`: ISO dates (sorted) → their ranges, `[]` meaning closed."""
    raw = _decode(raw, "special_days")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidHours(f"special_days must be an object date → ranges, got {raw!r}")
    days: SpecialDays = {}
    for key, value in raw.items():
        try:
            day = dt.date.fromisoformat(str(key).strip())
        except ValueError:
            raise InvalidHours(f"special_days: {key!r} is not a date YYYY-MM-DD") from None
        days[day.isoformat()] = _parse_day(value, f"special_days.{day.isoformat()}")
    return dict(sorted(days.items()))


def is_open_at_all(hours: OpeningHours) -> bool:
    return any(hours.values())


def effective_hours(opening_hours: object, working_hours: object) -> OpeningHours:
    """The hours that apply: `opening_hours` unless it has no open range at all, then `working_hours`.

    Both are validated even when the fallback is not needed, so a typo is caught at save time.
    """
    primary = parse_opening_hours(opening_hours)
    fallback = parse_working_hours(working_hours)
    if is_open_at_all(primary):
        return primary
    if is_open_at_all(fallback):
        return fallback
    raise InvalidHours("no opening hours: give opening_hours or working_hours with at least one open range")


def ranges_on(hours: OpeningHours, day: dt.date, special_days: SpecialDays | None = None) -> list[tuple[int, int]]:
    """The open ranges of a local date, as minutes since local midnight: the date's own when it is a
    special day, else its weekday's."""
    special = special_days.get(day.isoformat()) if special_days else None
    ranges = special if special is not None else hours.get(WEEKDAYS[day.weekday()], [])
    return [(to_minutes(opens, "opening_hours"), to_minutes(closes, "opening_hours")) for opens, closes in ranges]
