"""Phone numbers said aloud, masked in the transcript text that traces and logs keep.

A caller who says their number ("050-123-4567", "+972 50 123 4567") puts it in the model's
transcript; the conversation itself needs it, a trace file or a log line does not. A run of at
least nine digits, joined by nothing or by single spaces, dashes or dots and optionally led by
`+`, keeps only its last four digits. Dates and times stay readable: `2026-12-06` has eight
digits, and a run that ends in `:` (a clock time follows) or touches a letter is left alone.
"""

from __future__ import annotations

import re

MIN_DIGITS = 9
KEPT_DIGITS = 4
_PHONE_LIKE = re.compile(r"(?<![\w+])\+?\d(?:[ .\-]?\d){" + str(MIN_DIGITS - 1) + r",}(?![\w:])")
_DIGIT = re.compile(r"\d")

TEXT_KEYS = frozenset({"text", "transcript", "delta", "msg", "message", "request"})
"""Trace fields that may carry what a caller said."""


def _mask(match: re.Match[str]) -> str:
    run = match.group(0)
    hide = sum(char.isdigit() for char in run) - KEPT_DIGITS
    count = 0

    def star(digit: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return "*" if count <= hide else digit.group(0)

    return _DIGIT.sub(star, run)


def mask_phone_numbers(text: str) -> str:
    """`text` with every phone-like digit run masked but its last four digits."""
    if len(text) < MIN_DIGITS:
        return text
    return _PHONE_LIKE.sub(_mask, text)
