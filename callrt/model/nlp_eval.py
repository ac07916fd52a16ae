"""Scores a booking extractor on a labelled set: which cases it gets right, per category, and each miss.

A labelled set is JSON lines, one case each (the format of `tests/nlp_corpus/`):
`{"text": …}` or `{"history": [{"role": "user"|"assistant"|"server", "text": …}, …]}`,
`expect` (the action's fields other than `start`), and optionally `id`, `category`,
`split` (`dev` | `test`), `now` (ISO 8601) and `tz`. A field left out of `expect` is not
checked. `start` is never written by hand: it must agree with `date` and `time`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from actors.appointment_nlp import Action, Extractor, RuleExtractor
from actors.appointment_nlp.action import FIELDS
from actors.messages import HistoryTurn

ROLES = ("user", "assistant", "server")
UNCATEGORISED = "uncategorised"
EXPECTED_FIELDS = tuple(field for field in FIELDS if field != "start")


class BadCase(ValueError):
    """A line that is not a labelled case; the message says which line and why."""


@attrs.frozen
class LabelledCase:
    id: str
    category: str
    split: str | None
    history: tuple[HistoryTurn, ...]
    now: dt.datetime
    timezone: str
    expect: dict[str, Any]

    @property
    def is_conversation(self) -> bool:
        return len(self.history) > 1

    @property
    def is_dialogue(self) -> bool:
        """Several turns with the assistant speaking in between (what "multi-turn" counts)."""
        return any(turn.role == "assistant" for turn in self.history)

    @property
    def language(self) -> str:
        hebrew = any("\u0590" <= ch <= "\u05ff" for turn in self.history for ch in turn.text)
        return "he" if hebrew else "en"

    @property
    def label(self) -> str:
        return f"{self.id}: " + " | ".join(f"{turn.role[0]}: {turn.text}" for turn in self.history)


def parse_now(value: object, zone: ZoneInfo) -> dt.datetime:
    """An ISO 8601 time; without a UTC offset it is read in `zone`. Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("now must be an ISO 8601 string")
    try:
        now = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"now is not ISO 8601: {value!r}") from None
    return now if now.tzinfo else now.replace(tzinfo=zone)


def parse_zone(value: object) -> ZoneInfo:
    if not isinstance(value, str):
        raise ValueError("tz must be a string")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None


def parse_history(data: dict[str, Any]) -> tuple[HistoryTurn, ...]:
    """`text` (one caller turn) or `history` (a list of role/text turns). Raises ValueError."""
    if "text" in data:
        if not isinstance(data["text"], str):
            raise ValueError("text must be a string")
        return (HistoryTurn("user", data["text"]),)
    turns = data.get("history")
    if not isinstance(turns, list) or not turns:
        raise ValueError('a line needs "text" or a non-empty "history"')
    history = []
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("text"), str):
            raise ValueError(f'each history turn needs "role" ({"|".join(ROLES)}) and "text": {turn!r}')
        history.append(HistoryTurn(turn["role"], turn["text"]))
    return tuple(history)


def parse_case(line: str, case_id: str, default_now: dt.datetime | None, default_tz: str) -> LabelledCase:
    """One labelled line. Raises ValueError with the reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    expect = data.get("expect")
    if not isinstance(expect, dict) or "action" not in expect:
        raise ValueError('"expect" must be an object with at least "action"')
    unknown = set(expect) - set(EXPECTED_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields in expect: {sorted(unknown)}")
    tz = data.get("tz", default_tz)
    zone = parse_zone(tz)
    Action.from_json(expect, timezone=tz)  # a label must itself be a valid action
    now = parse_now(data["now"], zone) if "now" in data else default_now
    if now is None:
        raise ValueError('no "now": the expected dates are read from it (add it to the line, or pass --now)')
    for key in ("id", "category", "split"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} must be a string")
    return LabelledCase(
        id=data.get("id", case_id),
        category=data.get("category", UNCATEGORISED),
        split=data.get("split"),
        history=parse_history(data),
        now=now,
        timezone=tz,
        expect=expect,
    )


def load_cases(paths: Iterable[Path], default_now: dt.datetime | None, default_tz: str) -> list[LabelledCase]:
    """Every case in the files, in order; a case without an id is `<file>:<line>`. Raises BadCase, and
    OSError for a file it cannot read. Labels name dates, so a case needs a `now`: its own or `default_now`."""
    cases = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                cases.append(parse_case(line, where, default_now, default_tz))
            except ValueError as exc:
                raise BadCase(f"{where}: {exc}") from None
    return cases


@attrs.frozen
class Outcome:
    case: LabelledCase
    got: dict[str, Any]
    differences: dict[str, tuple[Any, Any]]
    """field -> (got, expected), for each checked field that differs ("start" when it contradicts date/time)."""

    @property
    def correct(self) -> bool:
        return not self.differences


def judge(case: LabelledCase, got: dict[str, Any]) -> Outcome:
    differences = {key: (got.get(key), value) for key, value in case.expect.items() if got.get(key) != value}
    if (got["date"] is None or got["time"] is None) != (got["start"] is None):
        differences["start"] = (got["start"], "date + time")
    return Outcome(case, got, differences)


class CountedFallback(RuleExtractor):
    """The rules as the LLM extractor's fallback, counting how many answers came from them, not the model."""

    def __init__(self) -> None:
        self.calls = 0

    def extract_sync(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        self.calls += 1
        return super().extract_sync(history, now, timezone)


async def score(extractor: Extractor, cases: Sequence[LabelledCase]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        action = await extractor.extract(case.history, case.now, case.timezone)
        outcomes.append(judge(case, action.to_json()))
    return outcomes


Group = tuple[str, Callable[[LabelledCase], bool]]
GROUPS: tuple[Group, ...] = (
    ("multi-turn", lambda case: case.is_dialogue),
    ("single turn", lambda case: not case.is_dialogue),
    ("Hebrew", lambda case: case.language == "he"),
    ("English", lambda case: case.language == "en"),
)


@attrs.frozen
class Tally:
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"{self.correct}/{self.total} = {self.accuracy:.3f}"


def tally(outcomes: Iterable[Outcome], keep: Callable[[LabelledCase], bool] = lambda case: True) -> Tally:
    kept = [outcome for outcome in outcomes if keep(outcome.case)]
    return Tally(sum(outcome.correct for outcome in kept), len(kept))


def by_category(outcomes: Sequence[Outcome]) -> dict[str, Tally]:
    categories = sorted({outcome.case.category for outcome in outcomes})
    return {name: tally(outcome for outcome in outcomes if outcome.case.category == name) for name in categories}


def report_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """The overall figure, the groups, each category, then every miss with what differed."""
    lines = [f"overall: {tally(outcomes)}"]
    lines += [f"  {name}: {tally(outcomes, keep)}" for name, keep in GROUPS if tally(outcomes, keep).total]
    lines += [f"  category {name}: {figure}" for name, figure in by_category(outcomes).items()]
    for outcome in outcomes:
        if not outcome.correct:
            lines.append(f"MISS {outcome.case.label}")
            lines += [f"    {key}: got {got!r}, expected {want!r}" for key, (got, want) in outcome.differences.items()]
    return lines
