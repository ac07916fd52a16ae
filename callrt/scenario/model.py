"""Scenario files (CONTRACTS "Scenario file"): parsing and validation.

A malformed scenario is refused with a message that names the offending field;
nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs

from store.errors import CallrtError

STEP_KINDS = ("say", "noise", "silence_ms", "pause_ms", "wait", "hangup")
NOISE_KINDS = ("cough", "click", "hum", "breath")
WAIT_KINDS = ("ai_started", "ai_done")
FAULT_KINDS = (
    "realtime_disconnect",
    "crash",
    "db_down",
    "late_transcription",
    "duplicate_events",
    "ai_false_claim",
)
ACTORS = ("audio", "realtime", "nlp", "booking")


class ScenarioError(CallrtError, ValueError):
    """The scenario file is not valid; the message says where."""


@attrs.frozen
class Fault:
    at_ms: float
    kind: str
    actor: str | None = None
    ms: float | None = None


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


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ScenarioError(f"{where}: {message}")


def _parse_step(step: Any, where: str) -> dict[str, Any]:
    _require(isinstance(step, dict), where, "a step must be an object")
    kinds = [k for k in STEP_KINDS if k in step]
    _require(len(kinds) == 1, where, f"a step has exactly one of {', '.join(STEP_KINDS)}")
    kind = kinds[0]
    if kind == "say":
        _require(isinstance(step["say"], str) and step["say"].strip() != "", where, "say needs text")
        _require(isinstance(step.get("ms"), int | float) and step["ms"] > 0, where, "say needs a positive ms")
    elif kind == "noise":
        _require(step["noise"] in NOISE_KINDS, where, f"noise is one of {NOISE_KINDS}")
        _require(isinstance(step.get("ms"), int | float) and step["ms"] > 0, where, "noise needs a positive ms")
        _require(isinstance(step.get("rms"), int | float) and step["rms"] >= 0, where, "noise needs an rms")
    elif kind in ("silence_ms", "pause_ms"):
        _require(isinstance(step[kind], int | float) and step[kind] >= 0, where, f"{kind} is a duration")
    elif kind == "wait":
        _require(step["wait"] in WAIT_KINDS, where, f"wait is one of {WAIT_KINDS}")
        timeout = step.get("timeout_ms", 20000)
        _require(isinstance(timeout, int | float) and timeout > 0, where, "timeout_ms is positive")
    else:
        _require(step["hangup"] is True, where, "hangup is true")
    return dict(step)


def _parse_fault(fault: Any, where: str) -> Fault:
    _require(isinstance(fault, dict), where, "a fault must be an object")
    kind = fault.get("kind")
    _require(kind in FAULT_KINDS, where, f"kind is one of {FAULT_KINDS}")
    at_ms = fault.get("at_ms", 0)
    _require(isinstance(at_ms, int | float) and at_ms >= 0, where, "at_ms is a non-negative time")
    actor = fault.get("actor")
    if kind == "crash":
        _require(actor in ACTORS, where, f"crash needs actor, one of {ACTORS}")
    ms = fault.get("ms")
    if kind in ("db_down", "late_transcription"):
        _require(isinstance(ms, int | float) and ms > 0, where, f"{kind} needs a positive ms")
    return Fault(at_ms=float(at_ms), kind=str(kind), actor=actor, ms=None if ms is None else float(ms))


def parse_scenario(raw: Any, source: str = "<scenario>") -> Scenario:
    _require(isinstance(raw, dict), source, "a scenario is a JSON object")
    name = raw.get("name")
    _require(isinstance(name, str) and name != "", source, "name is required")
    where = f"{source} ({name})"
    language = raw.get("language", "he")
    _require(language in ("he", "en"), where, "language is he or en")
    try:
        now = dt.datetime.fromisoformat(str(raw.get("now")))
    except ValueError as exc:
        raise ScenarioError(f"{where}: now must be an ISO-8601 datetime with offset") from exc
    _require(now.tzinfo is not None, where, "now needs a UTC offset")
    business = raw.get("business")
    _require(isinstance(business, dict), where, "business is required")
    appointments = raw.get("appointments", [])
    _require(isinstance(appointments, list), where, "appointments is a list")
    for i, appointment in enumerate(appointments):
        _require(isinstance(appointment, dict) and "start" in appointment, f"{where} appointments[{i}]", "needs start")
    caller = raw.get("caller") or {}
    script = raw.get("script")
    _require(isinstance(script, list), where, "script is a list of steps")
    faults = raw.get("faults", [])
    _require(isinstance(faults, list), where, "faults is a list")
    expect = raw.get("expect", {})
    _require(isinstance(expect, dict), where, "expect is an object")
    return Scenario(
        name=name,
        language=language,
        now=now,
        business=dict(business),
        appointments=tuple(appointments),
        caller_phone=caller.get("phone"),
        caller_name=caller.get("name"),
        script=tuple(_parse_step(step, f"{where} script[{i}]") for i, step in enumerate(script)),
        faults=tuple(_parse_fault(fault, f"{where} faults[{i}]") for i, fault in enumerate(faults)),
        expect=dict(expect),
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
