"""The NLP action: the one JSON object the extractors produce (docs/nlp-action.md).

`Action` is the typed form; `to_json()` / `from_json()` are the wire form, and
`from_json()` is the validator for anything an outside source (an LLM, a CLI
user) hands us: it raises `ValueError` with a reason instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import attrs

ActionKind = Literal["create_appointment", "reschedule_appointment", "cancel_appointment", "none"]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
FIELDS = ("action", "start", "date", "time", "name", "phone")


@attrs.frozen
class Action:
    """What the caller wants, with every piece found so far (None when not said)."""

    action: ActionKind
    start: dt.datetime | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    name: str | None = None
    phone: str | None = None

    @classmethod
    def build(
        cls,
        action: ActionKind,
        date: dt.date | None,
        time: dt.time | None,
        timezone: str,
        name: str | None = None,
        phone: str | None = None,
    ) -> Action:
        """An action whose `start` is derived from date + time in the business's time zone."""
        start = None
        if date is not None and time is not None:
            start = dt.datetime.combine(date, time, tzinfo=ZoneInfo(timezone))
        return cls(action=action, start=start, date=date, time=time, name=name, phone=phone)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "start": self.start.isoformat() if self.start else None,
            "date": self.date.isoformat() if self.date else None,
            "time": self.time.strftime("%H:%M") if self.time else None,
            "name": self.name,
            "phone": self.phone,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], timezone: str | None = None) -> Action:
        """Parse and validate a wire action. With `timezone`, `start` is rebuilt from date + time there.

        Raises ValueError on an unknown action, a field of the wrong type, an impossible
        date or time, or a `start` that contradicts `date`/`time`.
        """
        if not isinstance(data, Mapping):
            raise ValueError("an action must be a JSON object")
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        kind = data.get("action")
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action {kind!r}")
        date = _parse_optional(data, "date", dt.date.fromisoformat)
        time = _parse_optional(data, "time", _parse_hhmm)
        name = _optional_text(data, "name")
        phone = _optional_text(data, "phone")
        if timezone is not None:
            return cls.build(kind, date, time, timezone, name, phone)
        start = _parse_optional(data, "start", dt.datetime.fromisoformat)
        if start is not None:
            if start.tzinfo is None:
                raise ValueError("start has no UTC offset")
            if (date, time) != (start.date(), start.time()):
                raise ValueError("start disagrees with date/time")
        elif date is not None and time is not None:
            raise ValueError("start is null although date and time are known")
        return cls(action=kind, start=start, date=date, time=time, name=name, phone=phone)


def _parse_hhmm(text: str) -> dt.time:
    hours, sep, minutes = text.partition(":")
    if not sep or len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"time must be HH:MM, got {text!r}")
    return dt.time(int(hours), int(minutes))


def _parse_optional(data: Mapping[str, Any], key: str, parse: Any) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string or null")
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"invalid {key} {value!r}: {exc}") from None


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string or null")
    return value.strip() or None
