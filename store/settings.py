"""The rules a business's settings follow, one validator per field. Pure, no database.

`validate` is what the store applies before it saves anything, and what the console and
`callrt business set` apply to show every error at once, each next to its field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CallrtError
from .hours import parse_opening_hours, parse_special_days

LANGUAGES = ("he", "en")
NAME_LIMIT = 200
_E164 = re.compile(r"\+[1-9]\d{6,14}")
MODEL_NAME_LIMIT = 100
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class InvalidSettings(CallrtError, ValueError):
    """Settings that break the rules; `errors` maps each bad field to what is wrong with it."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def _name(raw: Any) -> str:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("a name is required")
    if len(text) > NAME_LIMIT:
        raise ValueError(f"at most {NAME_LIMIT} characters")
    return text


def _greeting_name(raw: Any) -> str | None:
    text = str(raw or "").strip()
    if len(text) > NAME_LIMIT:
        raise ValueError(f"at most {NAME_LIMIT} characters")
    return text or None


def _model(raw: Any) -> str | None:
    """A model name the business chose, or None (empty): the server's. Sent to the model service as given."""
    text = str(raw or "").strip()
    if not text:
        return None
    if len(text) > MODEL_NAME_LIMIT:
        raise ValueError(f"a model name has at most {MODEL_NAME_LIMIT} characters")
    if not _MODEL_NAME.fullmatch(text):
        raise ValueError(f"{text[:MODEL_NAME_LIMIT]!r} is not a model name (letters, digits, '.', '_', ':', '-')")
    return text


def _timezone(raw: Any) -> str:
    try:
        ZoneInfo(str(raw))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {raw!r} (use an IANA name such as Asia/Jerusalem)") from None
    return str(raw)


def _language(raw: Any) -> str:
    if raw not in LANGUAGES:
        raise ValueError(f"language must be he or en, got {raw!r}")
    return str(raw)


def _whole(raw: Any, low: int, high: int, what: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"{what} must be a whole number")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{what} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
    return value


def _phones(raw: Any) -> list[str]:
    numbers = [str(number).strip() for number in raw or [] if str(number).strip()]
    for number in numbers:
        if not _E164.fullmatch(number):
            raise ValueError(f"{number!r} is not a phone number in E.164 form, e.g. +972501234567")
    if len(set(numbers)) != len(numbers):
        raise ValueError("a number is listed twice")
    return numbers


def _hours(parse: Callable[[object], Any]) -> Callable[[Any], Any]:
    def check(raw: Any) -> Any:
        parse(raw)  # validated; stored as given, normalised again when read
        return raw

    return check


VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "greeting_name": _greeting_name,
    "timezone": _timezone,
    "language": _language,
    "slot_size_min": lambda raw: _whole(raw, 5, 24 * 60, "slot_size_min"),
    "min_notice_min": lambda raw: _whole(raw, 0, 30 * 24 * 60, "min_notice_min"),
    "horizon_days": lambda raw: _whole(raw, 0, 3 * 365, "horizon_days"),
    "capacity": lambda raw: _whole(raw, 1, 1000, "capacity"),
    "opening_hours": _hours(parse_opening_hours),
    "special_days": _hours(parse_special_days),
    "phones": _phones,
    "realtime_model": _model,
    "transcription_model": _model,
}
"""Field → validator: returns the value to store, or raises `ValueError` (`InvalidHours` for hours) saying why not."""


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every given field checked; the values to store, or `InvalidSettings` listing every bad field."""
    unknown = sorted(set(values) - set(VALIDATORS))
    if unknown:
        raise InvalidSettings({field: "not a business setting" for field in unknown})
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, raw in values.items():
        try:
            cleaned[field] = VALIDATORS[field](raw)
        except ValueError as exc:  # InvalidHours is one
            errors[field] = str(exc)
    if errors:
        raise InvalidSettings(errors)
    return cleaned
