"""Scenarios for `callrt call` against a live server (`tests.support.live_server`): a scenario file must
name a clock and a business, which a live server does not apply (it answers for its own business, on the
real clock), so `live_scenario` fills them in and a test says only what its caller does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Script = list[dict[str, object]]


def live_scenario(name: str, script: Script, *, language: str = "he", phone: str = "+972501234567") -> dict[str, Any]:
    """A scenario whose caller, on `phone`, follows `script`."""
    return {
        "name": name,
        "language": language,
        "now": "2026-11-24T10:00:00+02:00",
        "business": {"name": "unused: the live server answers for its own business"},
        "caller": {"phone": phone},
        "script": script,
    }


def asks_once(words: str, ms: int) -> Script:
    """The caller hears the greeting, says `words` (`ms` long), hears the answer and hangs up."""
    return [
        {"wait": "ai_done"},
        {"pause_ms": 300},
        {"say": words, "ms": ms},
        {"wait": "ai_done"},
        {"pause_ms": 1500},
        {"hangup": True},
    ]


BOOKING_SCRIPT = asks_once("אני רוצה תור ביום שני בעשר בבוקר, קוראים לי דנה", 1800)
"""Dana books Monday at ten: a weekday morning a few days ahead is bookable whatever day the test runs on."""


def write_scenario(folder: Path, scenario: dict[str, Any]) -> Path:
    """`scenario` written to `folder` as `<name>.json`, for `callrt call --scenario`."""
    path = folder / f"{scenario['name']}.json"
    path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
    return path
