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

from .dates import DATE_RULES, answered_weekday, next_week_phrase
from .intents import intent_of, is_info_question
from .lexicon import GREETING_WORDS, REFUSAL_WORDS, Intent, Kind
from .people import bare_name, introduced_name, phone_number
from .times import TIME_RULES, SpokenTime, part_of_day_at, resolve
from .tokens import Token, tokenize

T = TypeVar("T")
SKIPPED_BEFORE_SLOT = frozenset({Kind.AT, Kind.THE})
Stance = Literal["new", "from", "rejected"]
Expectation = Literal["name", "date", "time", "phone"]
CORRECTION_REACH = 3
"""How many words back a correction cue ("sorry, I mean") may be from the number it makes a time."""
INTERJECTED_NO = frozenset({"no", "nope", "nah"})


Slot = tuple[dt.date | None, dt.time]
"""A time with the day said for it (None: no day said), as an assistant offers it."""


@attrs.frozen
class Utterance:
    intent: Intent | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    name: str | None = None
    phone: str | None = None
    info_question: bool = False
    slots: tuple[Slot, ...] = ()
    """Every time named as available, in order, with its day: "tomorrow at 10, 11 or 2". A time in a
    clause that refuses it ("3 is taken", "בשלוש אין") is not one."""
    week_only: bool = False
    """The day is "next week" with no weekday: a weekday said later falls in that week."""

    @property
    def names_slot(self) -> bool:
        return self.date is not None or self.time is not None


@attrs.frozen
class _Found(Generic[T]):
    value: T
    stance: Stance
    at: int = 0
    """Where in the tokens it was said."""


def _stance(tokens: Sequence[Token], start: int) -> Stance:
    # Look back past "at"/"on"/"the": "not at six", "instead of on Monday".
    clause = tokens[start].clause
    before = [t for t in tokens[max(0, start - 4) : start] if t.clause == clause and t.kind not in SKIPPED_BEFORE_SLOT]
    before = [t for t in before if t.text not in ("on", "for")][-2:]
    # English "no" right before a slot is the interjection of a correction ("at ten, actually no, eleven").
    negated = before and before[-1].kind is Kind.NEGATION and before[-1].text not in INTERJECTED_NO
    if negated or (before and before[-1].kind is Kind.INSTEAD) or [t.kind for t in before] == [Kind.INSTEAD, Kind.OF]:
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


def _corrects(tokens: Sequence[Token], i: int, times: Sequence[_Found[SpokenTime]]) -> bool:
    """A bare number right after "sorry, I mean", "actually no", "בעצם" that follows a time replaces it."""
    recent = tokens[max(0, i - CORRECTION_REACH) : i]
    return bool(times) and any(t.kind in (Kind.CORRECTION, Kind.NEGATION) for t in recent)


def _offered(
    tokens: Sequence[Token], dates: Sequence[_Found[dt.date]], times: Sequence[_Found[SpokenTime]], part: str | None
) -> tuple[Slot, ...]:
    """Each new time not refused in its clause, with the days said since the time before it ("Sunday or
    Monday at 9" offers both), or the only day said when none came before."""
    refused = {t.clause for t in tokens if t.surface.lower() in REFUSAL_WORDS or t.text in REFUSAL_WORDS}
    new_dates = [f for f in dates if f.stance == "new"]
    slots: list[Slot] = []
    days: list[dt.date | None] = [new_dates[0].value] if len(new_dates) == 1 else [None]
    previous = -1
    for found in times:
        since = [f.value for f in new_dates if previous < f.at < found.at]
        days = list(since) or days
        previous = found.at
        # A part of day said once ("בשמונה וחצי בבוקר או בשתים עשרה") belongs to its own time in a list.
        time = resolve(found.value, part if len(times) == 1 else None)
        if found.stance == "new" and time is not None and tokens[found.at].clause not in refused:
            slots += [(day, time) for day in days]
    return tuple(slots)


def parse_utterance(
    text: str, today: dt.date, expect: frozenset[Expectation] = frozenset(), week_ahead: bool = False
) -> Utterance:
    """The pieces `text` states. `expect`: what the assistant just asked for (a bare "שש" is then a time,
    a bare "רביעי" a day). `week_ahead`: the caller asked for "next week", so a weekday falls in it."""
    tokens = tokenize(text)
    next_week = week_ahead or any(next_week_phrase(tokens, i) is not None for i in range(len(tokens)))
    found = _Pieces()
    i = 0
    while i < len(tokens):
        end = _scan_one(tokens, i, today, next_week, expect, found)
        i = end if end > i else i + 1
    dates, times = found.dates, found.times
    part = _utterance_part(tokens)
    spoken = _choose(times)
    time = resolve(spoken, part) if spoken else (dt.time(12, 0) if part == "noon" else None)
    date = _choose(dates)
    name = found.names[-1] if found.names else None
    if name is None and "name" in expect and not dates and not times:
        name = bare_name(tokens)
    new_slot = any(f.stance == "new" for f in dates) or any(f.stance == "new" for f in times)
    return Utterance(
        intent=intent_of(tokens, new_slot),
        date=date,
        time=time,
        name=name,
        phone=found.phones[-1] if found.phones else None,
        info_question=is_info_question(tokens),
        slots=_offered(tokens, dates, times, part),
        week_only=date is not None and next_week and not week_ahead and not any(t.is_(Kind.WEEKDAY) for t in tokens),
    )


@attrs.define
class _Pieces:
    dates: list[_Found[dt.date]] = attrs.Factory(list)
    times: list[_Found[SpokenTime]] = attrs.Factory(list)
    names: list[str] = attrs.Factory(list)
    phones: list[str] = attrs.Factory(list)


def _scan_one(
    tokens: Sequence[Token], i: int, today: dt.date, next_week: bool, expect: frozenset[Expectation], found: _Pieces
) -> int:
    """Apply the first matching rule at i, record what it found, return where it ended (i if none)."""
    phone = phone_number(tokens[i])
    if phone is not None:
        found.phones.append(phone)
        return i + 1
    date_rules = (*DATE_RULES, answered_weekday) if "date" in expect else DATE_RULES
    for date_rule in date_rules:
        date_match = date_rule(tokens, i, today, next_week)
        if date_match is not None:
            found.dates.append(_Found(date_match[0], _stance(tokens, i), i))
            return date_match[1]
    expect_time = "time" in expect or _corrects(tokens, i, found.times)
    for time_rule in TIME_RULES:
        time_match = time_rule(tokens, i, expect_time)
        if time_match is not None:
            found.times.append(_Found(time_match[0], _stance(tokens, i), i))
            return time_match[1]
    name_match = introduced_name(tokens, i)
    if name_match is not None:
        found.names.append(name_match[0])
        return name_match[1]
    return i
