"""The demo business: an Israeli hair salon, as the product spec describes it.

Used by `callrt db seed-demo`, by `callrt bench` for its own server,
and as the default business of generated test calls.
"""

from __future__ import annotations

from typing import Any

from .store import Store

ISRAELI_HOURS: dict[str, list[list[str]]] = {
    "sun": [["09:00", "19:00"]],
    "mon": [["09:00", "19:00"]],
    "tue": [["09:00", "19:00"]],
    "wed": [["09:00", "19:00"]],
    "thu": [["09:00", "19:00"]],
    "fri": [["08:00", "13:00"]],
    "sat": [],
}
"""Sunday to Thursday 09:00–19:00, Friday 08:00–13:00, Saturday closed."""

DEMO_BUSINESS: dict[str, Any] = {
    "name": "מספרת דנה",
    "timezone": "Asia/Jerusalem",
    "opening_hours": ISRAELI_HOURS,
    "working_hours": None,
    "slot_size_min": 30,
    "min_notice_min": 60,
}
"""`Store.create_business` keyword arguments (and the `business` object of a scenario file)."""


def ensure_demo_business(store: Store) -> int:
    """The demo business's id, creating it the first time."""
    existing = store.find_business(DEMO_BUSINESS["name"])
    return existing if existing is not None else store.create_business(**DEMO_BUSINESS)
