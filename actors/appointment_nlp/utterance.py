"""One caller utterance -> the pieces it states (`Utterance`).

The scanner walks the tokens left to right; at each position the first rule that
matches (phone, dates, times, a name introducer) consumes its tokens. When an
utterance names several dates or times, the last one wins, except those marked as
the old or rejected slot: "מ"/"from" (the old slot of a move, kept only if nothing
else is said), "במקום"/"instead of"/"לא"/"not" (never kept).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Generic, Literal, TypeVar

import attrs

from .dates import DATE_RULES, next_week_phrase
from .intents import intent_of, is_info_question
from .lexicon import GREETING_WORDS, Intent, Kind
from .people import bare_name, introduced_name, phone_number
from .times import TIME_RULES, SpokenTime, part_of_day_at, resolve
from .tokens import Token, tokenize

T = TypeVar("T")
SKIPPED_BEFORE_SLOT = frozenset({Kind.AT, Kind.THE})
Stance = Literal["new", "from", "rejected"]
Expectation = Literal["name", "date", "time", "phone"]


@attrs.frozen
class Utterance:
    intent: Intent | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    name: str | None = None
    phone: str | None = None
    info_question: bool = False

    @property
    def names_slot(self) -> bool:
        return self.date is not None or self.time is not None


@attrs.frozen
class _Found(Generic[T]):
    value: T
    stance: Stance


def _stance(tokens: Sequence[Token], start: int) -> Stance:
    # Look back past "at"/"on"/"the": "not at six", "instead of on Monday".
    clause = tokens[start].clause
    before = [t for t in tokens[max(0, start - 4) : start] if t.clause == clause and t.kind not in SKIPPED_BEFORE_SLOT]
    before = [t for t in before if t.text not in ("on", "for")][-2:]
    if before and (
        before[-1].kind in (Kind.NEGATION, Kind.INSTEAD) or [t.kind for t in before] == [Kind.INSTEAD, Kind.OF]
    ):
        return "rejected"
    if tokens[start].prefix.startswith("מ") or (before and before[-1].kind is Kind.FROM):
        return "from"
    return "new"


def _choose(found: Sequence[_Found[T]]) -> T | None:
    for stance in ("new", "from"):
        candidates = [f.value for f in found if f.stance == stance]
        if candidates:
            return candidates[-1]
    return None


def _utterance_part(tokens: Sequence[Token]) -> str | None:
    """The first part of day said anywhere ("מחר בערב, בסביבות שש", "tonight"), greetings aside."""
    for i, tok in enumerate(tokens):
        if tok.kind is Kind.TONIGHT:
            return "evening"
        part = part_of_day_at(tokens, i)
        if part is not None and not _is_greeting(tokens, i, part[1]):
            return part[0]
    return None


def _is_greeting(tokens: Sequence[Token], start: int, end: int) -> bool:
    """ "בוקר טוב", "good morning"."""
    before = tokens[start - 1].text if start > 0 else ""
    after = tokens[end].text if end < len(tokens) else ""
    return before in GREETING_WORDS or after in GREETING_WORDS


def parse_utterance(text: str, today: dt.date, expect: frozenset[Expectation] = frozenset()) -> Utterance:
    """The pieces `text` states. `expect`: what the assistant just asked for (a bare "שש" is then a time)."""
    tokens = tokenize(text)
    next_week = any(next_week_phrase(tokens, i) is not None for i in range(len(tokens)))
    dates: list[_Found[dt.date]] = []
    times: list[_Found[SpokenTime]] = []
    names: list[str] = []
    phones: list[str] = []
    i = 0
    while i < len(tokens):
        end = _scan_one(tokens, i, today, next_week, "time" in expect, dates, times, names, phones)
        i = end if end > i else i + 1
    part = _utterance_part(tokens)
    spoken = _choose(times)
    time = resolve(spoken, part) if spoken else (dt.time(12, 0) if part == "noon" else None)
    date = _choose(dates)
    name = names[-1] if names else None
    if name is None and "name" in expect and not dates and not times:
        name = bare_name(tokens)
    new_slot = any(f.stance == "new" for f in dates) or any(f.stance == "new" for f in times)
    return Utterance(
        intent=intent_of(tokens, new_slot),
        date=date,
        time=time,
        name=name,
        phone=phones[-1] if phones else None,
        info_question=is_info_question(tokens),
    )


def _scan_one(
    tokens: Sequence[Token],
    i: int,
    today: dt.date,
    next_week: bool,
    expect_time: bool,
    dates: list[_Found[dt.date]],
    times: list[_Found[SpokenTime]],
    names: list[str],
    phones: list[str],
) -> int:
    """Apply the first matching rule at i, record what it found, return where it ended (i if none)."""
    phone = phone_number(tokens[i])
    if phone is not None:
        phones.append(phone)
        return i + 1
    for date_rule in DATE_RULES:
        date_match = date_rule(tokens, i, today, next_week)
        if date_match is not None:
            dates.append(_Found(date_match[0], _stance(tokens, i)))
            return date_match[1]
    for time_rule in TIME_RULES:
        time_match = time_rule(tokens, i, expect_time)
        if time_match is not None:
            times.append(_Found(time_match[0], _stance(tokens, i)))
            return time_match[1]
    name_match = introduced_name(tokens, i)
    if name_match is not None:
        names.append(name_match[0])
        return name_match[1]
    return i
