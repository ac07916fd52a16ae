"""Date rules: relative days, weekdays (this / next week), explicit dates.

Each rule reads tokens at a position and returns the date it names and where it
ends, or None. Weeks start on Sunday (the Israeli week): "next week on Tuesday"
is the Tuesday of the Sunday-to-Saturday week after the current one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from .lexicon import HEBREW_WEEKDAY_LETTERS, Kind
from .tokens import Token

DateMatch = tuple[dt.date, int]
DateRule = Callable[[Sequence[Token], int, dt.date, bool], DateMatch | None]
"""(tokens, position, today, the utterance mentions "next week") -> (date, end) | None"""


def _kind(tokens: Sequence[Token], i: int) -> Kind | None:
    return tokens[i].kind if 0 <= i < len(tokens) else None


def relative_day(tokens: Sequence[Token], i: int, today: dt.date, next_week: bool) -> DateMatch | None:
    """היום / מחר / מחרתיים / today / tomorrow / tonight / the day after tomorrow."""
    tok = tokens[i]
    if tok.text == "day" and _kind(tokens, i + 1) is Kind.PAST and _kind(tokens, i + 2) is Kind.RELDAY:
        return today + dt.timedelta(days=2), i + 3
    if tok.kind is Kind.RELDAY and isinstance(tok.value, int):
        return today + dt.timedelta(days=tok.value), i + 1
    if tok.kind is Kind.TONIGHT:
        return today, i + 1
    return None


def span_from_today(tokens: Sequence[Token], i: int, today: dt.date, next_week: bool) -> DateMatch | None:
    """בעוד שבוע / בעוד שבועיים / בעוד 3 ימים / in a week / in 3 days / next week (alone)."""
    if tokens[i].kind is Kind.IN:
        j, count = i + 1, 1
        if j < len(tokens) and tokens[j].text == "a":
            j += 1
        elif j < len(tokens) and tokens[j].number is not None:
            count = tokens[j].number or 1
            j += 1
        unit = tokens[j] if j < len(tokens) else None
        if unit is not None and unit.kind is Kind.WEEK and isinstance(unit.value, int):
            return today + dt.timedelta(weeks=count * unit.value), j + 1
        if unit is not None and unit.kind is Kind.DAY and j > i + 1:
            return today + dt.timedelta(days=count), j + 1
        return None
    end = next_week_phrase(tokens, i)
    if end is not None:
        # With a weekday in the utterance the weekday rule owns the date; alone it means "a week from today".
        if any(t.kind is Kind.WEEKDAY for t in tokens):
            return None
        return today + dt.timedelta(weeks=1), end
    return None


def next_week_phrase(tokens: Sequence[Token], i: int) -> int | None:
    """Where "next week" / "(ב)שבוע הבא" starting at i ends, if it is one."""
    if tokens[i].kind is Kind.NEXT and _kind(tokens, i + 1) is Kind.WEEK:
        return i + 2
    if tokens[i].kind is Kind.WEEK and tokens[i].value == 1 and _kind(tokens, i + 1) is Kind.NEXT:
        return i + 2
    return None


def weekday(tokens: Sequence[Token], i: int, today: dt.date, next_week: bool) -> DateMatch | None:
    """ביום שלישי / ברביעי / יום ג' / שבת / (next|this) Tuesday / Tuesday next week / שלישי הבא."""
    return _weekday(tokens, i, today, next_week, bare_ordinal=False)


def _weekday(tokens: Sequence[Token], i: int, today: dt.date, next_week: bool, bare_ordinal: bool) -> DateMatch | None:
    j, explicit_next = i, False
    if tokens[j].kind is Kind.NEXT and _kind(tokens, j + 1) is Kind.WEEKDAY:
        j, explicit_next = j + 1, True
    elif tokens[j].kind is Kind.THIS and _kind(tokens, j + 1) is Kind.WEEKDAY:
        j += 1
    day = _weekday_at(tokens, j, bare_ordinal)
    if day is None:
        return None
    number, end = day
    if _kind(tokens, end) is Kind.NEXT and tokens[end].text != "next":
        end += 1  # "שלישי הבא": in Hebrew "the coming Tuesday", same as plain "שלישי"
    if explicit_next or next_week:
        sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
        return sunday + dt.timedelta(days=7 + (number + 1) % 7), end
    ahead = (number - today.weekday()) % 7 or 7  # said on a Tuesday, "Tuesday" is a week later
    return today + dt.timedelta(days=ahead), end


def _weekday_at(tokens: Sequence[Token], i: int, bare_ordinal: bool) -> tuple[int, int] | None:
    tok = tokens[i]
    after_day_word = tok.kind is Kind.DAY and i + 1 < len(tokens)
    if after_day_word:
        nxt = tokens[i + 1]
        letter = nxt.surface.rstrip("'")
        if nxt.surface.endswith("'") and letter in HEBREW_WEEKDAY_LETTERS:
            return HEBREW_WEEKDAY_LETTERS[letter], i + 2
        if nxt.kind is Kind.WEEKDAY and isinstance(nxt.value, int):
            return nxt.value, i + 2
        return None
    if tok.kind is not Kind.WEEKDAY or not isinstance(tok.value, int):
        return None
    # A bare Hebrew ordinal ("שני", "חמישי") is a weekday only with a prefix ("ברביעי") or as "שבת";
    # "ה" alone is "the": "השני" is "the second one".
    hebrew = not tok.text.isascii()
    grammatical_prefix = tok.prefix.strip("ה") != ""
    only_the = bool(tok.prefix) and not grammatical_prefix
    if hebrew and tok.text != "שבת" and (only_the or not (grammatical_prefix or bare_ordinal)):
        return None
    return tok.value, i + 1


def answered_weekday(tokens: Sequence[Token], i: int, today: dt.date, next_week: bool) -> DateMatch | None:
    """A bare Hebrew ordinal ("רביעי", "חמישי בעשר") answering "which day?": there it names the weekday."""
    return _weekday(tokens, i, today, next_week, bare_ordinal=True)


def day_of_month(tokens: Sequence[Token], i: int, today: dt.date, next_week: bool) -> DateMatch | None:
    """3 בדצמבר / 3rd of December / December 3rd / Dec 3 / 25 לחודש / the 25th / 1.12 / 1/12/2026."""
    tok = tokens[i]
    if tok.shape == "dotted":
        if _kind(tokens, i - 1) is Kind.AT:
            return None  # "בשעה 11.30" is a time
        date = _dotted(tok, today)
        return (date, i + 1) if date else None
    day = tok.number
    if day is not None and 1 <= day <= 31:
        j = i + 1 + (_kind(tokens, i + 1) is Kind.OF)
        month = _month_at(tokens, j)
        if month is not None:
            return _found(_upcoming(today, month, day), j + 1)
        if _kind(tokens, i + 1) is Kind.MONTH_REF:
            return _found(_upcoming_day(today, day), i + 2)
        if tok.shape == "ordinal":
            return _found(_upcoming_day(today, day), i + 1)
    month = _month_at(tokens, i)
    if month is not None and i + 1 < len(tokens):
        after = tokens[i + 1]
        if after.shape in ("number", "ordinal") and after.number is not None and 1 <= after.number <= 31:
            return _found(_upcoming(today, month, after.number), i + 2)
    return None


def _month_at(tokens: Sequence[Token], i: int) -> int | None:
    value = tokens[i].value if _kind(tokens, i) is Kind.MONTH else None
    return value if isinstance(value, int) else None


def _found(date: dt.date | None, end: int) -> DateMatch | None:
    return (date, end) if date else None


def _dotted(tok: Token, today: dt.date) -> dt.date | None:
    """Day first, as written in Israel: 1.12 is the first of December."""
    parts = [int(p) for p in tok.text.replace("/", ".").split(".")]
    if len(parts) == 3:
        year = parts[2] + 2000 if parts[2] < 100 else parts[2]
        try:
            return dt.date(year, parts[1], parts[0])
        except ValueError:
            return None
    return _upcoming(today, parts[1], parts[0])


def _upcoming(today: dt.date, month: int, day: int) -> dt.date | None:
    """The next such date from today on (a date already past this year means next year)."""
    for year in (today.year, today.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _upcoming_day(today: dt.date, day: int) -> dt.date | None:
    """The next date with this day of the month (this month unless it has passed)."""
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


DATE_RULES: tuple[DateRule, ...] = (relative_day, span_from_today, weekday, day_of_month)
