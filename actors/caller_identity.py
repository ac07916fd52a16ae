"""Whose appointments a call may change: the verified caller line's, never a number said aloud.

The verified line is the `From` of the signed webhook that started the call (carried to the media
stream inside its token). Anyone can *say* any number, so a spoken number is a contact for a new
booking and nothing more: it never selects an existing appointment to cancel or move.
"""

from __future__ import annotations

import re

DEFAULT_COUNTRY_CODE = "972"
"""Numbers said in national form (`050-1234567`) are taken to be Israeli, like the product's callers."""

_NOT_DIGIT = re.compile(r"\D")


def phone_key(number: str | None, country_code: str = DEFAULT_COUNTRY_CODE) -> str | None:
    """The number as international digits (`972501234567`), whether written `+972…`, `00972…` or `0…`;
    None when it holds no digits."""
    if not number:
        return None
    digits = _NOT_DIGIT.sub("", number)
    if not digits:
        return None
    if number.lstrip().startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return country_code + digits[1:]
    return digits


def same_line(a: str | None, b: str | None) -> bool:
    """True when both are the same dialable number; two unknown numbers are never the same."""
    key = phone_key(a)
    return key is not None and key == phone_key(b)


def may_touch_appointments_of_line(verified_caller: str | None, spoken: str | None) -> bool:
    """Whether a cancel or move may look up the caller line's appointments: only with a verified line,
    and only when no other number was named (naming one means the request is about someone else's)."""
    return phone_key(verified_caller) is not None and (spoken is None or same_line(spoken, verified_caller))
