"""The settings form: what the browser posted, turned into `Store.update_business` changes, or into
errors keyed by field (an hours error by weekday or by special-date row), using the store's rules.

`SettingsForm` is also what the page shows: the stored settings, or what was posted when it
could not be saved, so a mistake is corrected in place rather than typed again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from starlette.datastructures import FormData

from callrt.console.texts import WEEK
from store import InvalidSettings
from store.hours import parse_opening_hours, parse_special_days
from store.settings import validate

SCALARS = (
    "name",
    "greeting_name",
    "language",
    "timezone",
    "slot_size_min",
    "min_notice_min",
    "horizon_days",
    "capacity",
)
_RANGE_SPLIT = re.compile(r"\s*,\s*")


@attrs.define
class SettingsForm:
    values: dict[str, str]
    """The scalar fields, as text."""
    hours: dict[str, list[tuple[str, str]]]
    """Weekday → its ranges as typed; empty = closed."""
    special: list[tuple[str, str]]
    """(date, ranges text) rows; empty ranges = closed."""
    phones: str
    errors: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_stored(
        cls, stored: Mapping[str, Any], effective_hours: Mapping[str, list[tuple[str, str]]]
    ) -> SettingsForm:
        values = {field: "" if stored.get(field) is None else str(stored[field]) for field in SCALARS}
        special = [
            (day, ", ".join(f"{opens}-{closes}" for opens, closes in ranges))
            for day, ranges in parse_special_days(stored.get("special_days")).items()
        ]
        return cls(
            values=values,
            hours={day: list(effective_hours.get(day, [])) for day in WEEK},
            special=special,
            phones="\n".join(stored.get("phones") or []),
        )

    @classmethod
    def from_post(cls, form: FormData) -> SettingsForm:
        hours: dict[str, list[tuple[str, str]]] = {}
        for day in WEEK:
            pairs = zip(form.getlist(f"{day}_open"), form.getlist(f"{day}_close"), strict=False)
            typed = [(str(opens).strip(), str(closes).strip()) for opens, closes in pairs]
            hours[day] = [] if form.get(f"{day}_closed") else [pair for pair in typed if any(pair)]
        special = [
            (str(day).strip(), str(ranges).strip())
            for day, ranges in zip(form.getlist("special_date"), form.getlist("special_hours"), strict=False)
            if str(day).strip() or str(ranges).strip()
        ]
        return cls(
            values={field: str(form.get(field, "")).strip() for field in SCALARS},
            hours=hours,
            special=special,
            phones=str(form.get("phones", "")),
        )

    def changes(self) -> dict[str, Any] | None:
        """The validated changes, or None with `errors` filled in (nothing may be saved then)."""
        self.errors = {}
        opening: dict[str, list[list[str]]] = {}
        for day, ranges in self.hours.items():
            if any(not opens or not closes for opens, closes in ranges):
                self.errors[f"hours_{day}"] = "give both the opening and the closing time"
                continue
            try:
                parse_opening_hours({day: [list(pair) for pair in ranges]})
            except ValueError as exc:
                self.errors[f"hours_{day}"] = _without_prefix(str(exc))
            opening[day] = [list(pair) for pair in ranges]
        special: dict[str, list[str]] = {}
        for index, (day, typed) in enumerate(self.special):
            parts = [part for part in _RANGE_SPLIT.split(typed) if part]
            try:
                parse_special_days({day: parts})
            except ValueError as exc:
                self.errors[f"special_{index}"] = _without_prefix(str(exc))
                continue
            if day in special:
                self.errors[f"special_{index}"] = f"{day} is listed twice"
            special[day] = parts
        proposed: dict[str, Any] = {field: self.values[field] for field in SCALARS}
        proposed["greeting_name"] = proposed["greeting_name"] or None
        proposed["phones"] = [number for number in re.split(r"[\s,]+", self.phones) if number]
        proposed["opening_hours"] = opening
        proposed["special_days"] = special
        try:
            validate(
                {field: value for field, value in proposed.items() if field not in ("opening_hours", "special_days")}
            )
        except InvalidSettings as exc:
            for field, message in exc.errors.items():
                self.errors.setdefault(field, message)
        if not any(opening.values()) and not self.errors:
            self.errors["opening_hours"] = "open at least one range on some day"
        return None if self.errors else proposed

    def take_store_errors(self, refused: InvalidSettings) -> None:
        """Errors only the database can see (a number that reaches another business)."""
        self.errors.update(refused.errors)


def _without_prefix(message: str) -> str:
    """`opening_hours.sun: range … closes before it opens` → the part after the field path."""
    head, _, rest = message.partition(": ")
    return rest if rest and "." in head else message
