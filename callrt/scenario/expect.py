"""Expectations on a scenario report, written in the scenario file's `expect` object.

Keys are paths into the report (`hangup.by`, `appointments[0].start`); values are
either the expected value itself or an object of checks:

| check | holds when |
|---|---|
| `count` | the list has exactly this many items |
| `min` / `max` | the number (or the list's length) is at least / at most this |
| `contains` / `not_contains` | the string, or some string of the list, or some turn's `text`, contains this |
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def lookup(report: dict[str, Any], path: str) -> Any:
    value: Any = report
    for key, index in _STEP.findall(path):
        try:
            value = value[int(index)] if index else value[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item.get("text", "") if isinstance(item, dict) else str(item) for item in value]
    return [str(value)]


def _size(value: Any) -> float:
    return float(len(value)) if isinstance(value, list | str) else float(value)


def _check(value: Any, check: str, expected: Any) -> bool:
    if check == "count":
        return isinstance(value, list) and len(value) == expected
    if check == "min":
        return _size(value) >= float(expected)
    if check == "max":
        return _size(value) <= float(expected)
    if check == "contains":
        return any(expected in text for text in _texts(value))
    if check == "not_contains":
        return not any(expected in text for text in _texts(value))
    raise ValueError(f"unknown expectation check {check!r}")


def unmet_expectations(report: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """A message per expectation the report does not meet (empty when all hold)."""
    unmet = []
    for path, expected in expect.items():
        value = lookup(report, path)
        if value is _MISSING:
            unmet.append(f"{path}: missing from the report")
            continue
        if isinstance(expected, dict):
            for check, operand in expected.items():
                if not _check(value, check, operand):
                    unmet.append(f"{path}: expected {check} {operand!r}, got {value!r}")
        elif value != expected:
            unmet.append(f"{path}: expected {expected!r}, got {value!r}")
    return unmet
