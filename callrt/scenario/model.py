"""Scenario files (docs/scenario-format.md): loading, validation, and the parsed `Scenario`.

A file is checked against the shipped JSON Schema (`callrt.scenario.schema`) first, so a
malformed one is refused with one message naming its JSON path; what a schema cannot check
(a `now` that is a real date) is checked here. Nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs

from callrt.scenario.schema import schema_problem
from store.errors import CallrtError


class ScenarioError(CallrtError, ValueError):
    """The scenario file is not valid; the message says where."""


@attrs.frozen
class Fault:
    at_ms: float
    kind: str
    actor: str | None = None
    ms: float | None = None
    field: str | None = None
    """`refuse_session`: the session field the model refuses (`*`: every session)."""


@attrs.frozen
class Scenario:
    name: str
    language: str
    now: dt.datetime
    business: dict[str, Any]
    appointments: tuple[dict[str, Any], ...]
    caller_phone: str | None
    caller_name: str | None
    script: tuple[dict[str, Any], ...]
    faults: tuple[Fault, ...]
    expect: dict[str, Any]
    """Optional expectations (tests/scenarios): report fields and their expected values."""
    source: str = ""
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def says(self) -> list[str]:
        return [str(step["say"]) for step in self.script if "say" in step]


def _fault(fault: dict[str, Any]) -> Fault:
    ms = fault.get("ms")
    return Fault(
        at_ms=float(fault.get("at_ms", 0)),
        kind=str(fault["kind"]),
        actor=fault.get("actor"),
        ms=None if ms is None else float(ms),
        field=fault.get("field"),
    )


def parse_scenario(raw: Any, source: str = "<scenario>") -> Scenario:
    """A `Scenario` from a decoded scenario file; `ScenarioError` naming the place when it is malformed."""
    problem = schema_problem(raw)
    if problem is not None:
        raise ScenarioError(f"{source}: {problem}")
    try:
        now = dt.datetime.fromisoformat(raw["now"])
    except ValueError as exc:
        raise ScenarioError(f"{source}: $.now: {raw['now']!r} is not a date and time ({exc})") from exc
    caller = raw.get("caller") or {}
    return Scenario(
        name=raw["name"],
        language=raw.get("language", "he"),
        now=now,
        business=dict(raw["business"]),
        appointments=tuple(raw.get("appointments", [])),
        caller_phone=caller.get("phone"),
        caller_name=caller.get("name"),
        script=tuple(dict(step) for step in raw["script"]),
        faults=tuple(_fault(fault) for fault in raw.get("faults", [])),
        expect=dict(raw.get("expect", {})),
        source=source,
        raw=raw,
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc})") from exc
    return parse_scenario(raw, str(path))


def script_duration_ms(scenario: Scenario) -> float:
    """An upper bound of how long the caller's script can take (waits at their timeout)."""
    total = 0.0
    for step in scenario.script:
        if "say" in step or "noise" in step:
            total += float(step["ms"])
        elif "silence_ms" in step:
            total += float(step["silence_ms"])
        elif "pause_ms" in step:
            total += float(step["pause_ms"])
        elif "wait" in step:
            total += float(step.get("timeout_ms", 20000))
    return total
