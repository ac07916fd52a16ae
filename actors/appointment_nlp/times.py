"""Time rules: clock digits, spoken hours with minutes ("שש וחצי", "six thirty"), "quarter to five",
"half past six", and the part of day that disambiguates them ("בערב", "pm", "in the morning").

A rule returns a `SpokenTime`: the hour as said plus a signed minute offset; `resolve()`
turns it into a clock time, applying the part of day or, when none was said, the
business-hours convention (docs/nlp-action.md): a bare hour 1–7 means 13:00–19:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import attrs

from .lexicon import PLACE_WORDS, Kind
from .tokens import Token

MINUTE_VALUES = frozenset({5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55})
TENS = frozenset({20, 30, 40, 50})
AFTERNOON_PARTS = frozenset({"pm", "afternoon", "evening"})
MORNING_PARTS = frozenset({"am", "morning"})


@attrs.frozen
class SpokenTime:
    hour: int
    offset: int = 0
    """Minutes to add to the hour: +30 for "וחצי", -15 for "quarter to"."""
    part: str | None = None
    """am | pm | morning | noon | afternoon | evening | night, when said right with the time."""
    literal: bool = False
    """Written as a 24-hour clock ("18:00", "07:30"): no part-of-day guessing."""


TimeMatch = tuple[SpokenTime, int]
TimeRule = Callable[[Sequence[Token], int, bool], TimeMatch | None]
"""(tokens, position, the assistant just asked for a time) -> (time, end) | None"""


def resolve(spoken: SpokenTime, utterance_part: str | None) -> dt.time | None:
    """The clock time meant, or None when the pieces do not make a time of day."""
    part = spoken.part or utterance_part
    hour = spoken.hour
    if not spoken.literal:
        if part in AFTERNOON_PARTS:
            hour = hour + 12 if hour < 12 else hour
        elif part == "night":
            hour = hour + 12 if 5 <= hour < 12 else (0 if hour == 12 else hour)
        elif part == "noon":
            hour = hour + 12 if 1 <= hour <= 5 else hour
        elif part in MORNING_PARTS:
            hour = 0 if hour == 12 else hour
        elif 1 <= hour <= 7:
            hour += 12  # an hour said without a part of day, 1–7, is in the afternoon: businesses open then
    minutes = hour * 60 + spoken.offset
    if not 0 <= minutes < 24 * 60:
        return None
    return dt.time(minutes // 60, minutes % 60)


def _kind(tokens: Sequence[Token], i: int) -> Kind | None:
    return tokens[i].kind if 0 <= i < len(tokens) else None


def _hour_at(tokens: Sequence[Token], i: int) -> tuple[int, bool, int] | None:
    """(hour, literal, end): a number word 1–12 ("אחת עשרה" = 11) or digits 0–23."""
    if i >= len(tokens):
        return None
    tok = tokens[i]
    if tok.shape == "number":
        hour = int(tok.text)
        return (hour, hour > 12 or tok.text.startswith("0"), i + 1) if hour <= 23 else None
    if tok.kind is not Kind.NUMBER or not isinstance(tok.value, int):
        return None
    hour = tok.value
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    if hour in (1, 2) and after is not None and after.value == 10 and not after.prefix:
        return hour + 10, False, i + 2  # אחת עשרה, שתים עשרה
    return (hour, False, i + 1) if 1 <= hour <= 12 else None


def _minutes_word(tokens: Sequence[Token], i: int, *, joined: bool) -> tuple[int, int] | None:
    """Minutes said after an hour: "וחצי", "ועשרים וחמש", "thirty", "forty five", "oh five".

    `joined`: Hebrew minutes hang on the hour with "ו" ("שש וחצי"); without it only
    tens count ("שבע עשרים"), because "שש עשרה" is sixteen.
    """
    if i >= len(tokens):
        return None
    tok = tokens[i]
    value = tok.value if tok.kind in (Kind.FRACTION, Kind.NUMBER) and isinstance(tok.value, int) else None
    if tok.shape == "number" and (tok.prefix.startswith("ו") or _spoken_digits(tokens, i)):
        value = int(tok.text)  # "שש ו-20", and "4 30" as a transcriber writes "four thirty"
    if value is None:
        return None
    hebrew_and = tok.prefix.startswith("ו")
    english = tok.text.isascii()
    if not (hebrew_and or english or value in TENS or not joined):
        return None
    end = i + 1
    if value == 0 and english and end < len(tokens) and tokens[end].number is not None:  # "six oh five"
        value, end = tokens[end].number or 0, end + 1
    elif value in TENS and end < len(tokens) and tokens[end].kind is Kind.NUMBER:
        unit = tokens[end].value
        if isinstance(unit, int) and 1 <= unit <= 9 and (tokens[end].prefix.startswith("ו") or english):
            value, end = value + unit, end + 1
    if value not in MINUTE_VALUES and not (1 <= value <= 59 and tok.shape == "number"):
        return None
    if _kind(tokens, end) is Kind.MINUTE_WORD:
        end += 1
    return value, end


def _spoken_digits(tokens: Sequence[Token], i: int) -> bool:
    """ "4 30", "9 05" after an hour, in its clause: minutes as said ("10, 11 or 2" is three hours)."""
    tok = tokens[i]
    same_clause = i > 0 and tokens[i - 1].clause == tok.clause
    spoken = tok.text[0] == "0" or int(tok.text) in MINUTE_VALUES
    return same_clause and not tok.prefix and len(tok.text) == 2 and spoken


def part_of_day_at(tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
    """ "pm", "בערב", "בצהריים", "אחר הצהריים", "אחה״צ", "in the morning", "at night" at i."""
    j = i
    if _kind(tokens, j) is Kind.AMPM:
        return str(tokens[j].value), j + 1
    if _kind(tokens, j) in (Kind.IN, Kind.AT):
        j += 1
        if _kind(tokens, j) is Kind.THE:
            j += 1
    if _kind(tokens, j) is Kind.AFTER_NOON and _kind(tokens, j + 1) is Kind.PART:
        return "afternoon", j + 2
    if _kind(tokens, j) is Kind.PART:
        return str(tokens[j].value), j + 1
    return None


def _finish(tokens: Sequence[Token], hour: int, literal: bool, offset: int, end: int) -> TimeMatch:
    """The time with whatever follows it: "o'clock" and a part of day."""
    if _kind(tokens, end) is Kind.OCLOCK:
        end += 1
    part = part_of_day_at(tokens, end)
    if part is None:
        return SpokenTime(hour, offset, None, literal), end
    return SpokenTime(hour, offset, part[0], literal), part[1]


def clock_time(tokens: Sequence[Token], i: int, expect_time: bool) -> TimeMatch | None:
    """18:00, ב-11:15, 10:30 am, בשעה 11.30."""
    tok = tokens[i]
    if tok.shape == "dotted" and _kind(tokens, i - 1) is Kind.AT and tok.text.count(".") == 1:
        text = tok.text.replace(".", ":")
    elif tok.shape == "clock":
        text = tok.text
    else:
        return None
    hours, minutes = (int(x) for x in text.split(":"))
    if hours > 23 or minutes > 59:
        return None
    return _finish(tokens, hours, hours > 12 or text.startswith("0"), minutes, i + 1)


def minutes_to_hour(tokens: Sequence[Token], i: int, expect_time: bool) -> TimeMatch | None:
    """רבע לחמש, עשרים לשש, a quarter to five, ten to seven."""
    if tokens[i].prefix.startswith("מ") or _kind(tokens, i - 1) is Kind.FROM:
        return None  # "מחמש לשש" / "from five to six" is a range, not 5:55
    minutes = _minutes_word(tokens, i, joined=False)
    if minutes is None or minutes[0] > 30:
        return None
    value, j = minutes
    if _kind(tokens, j) is Kind.TO:
        j += 1
    elif not (j < len(tokens) and tokens[j].prefix.endswith("ל")):
        return None
    hour = _hour_at(tokens, j)
    if hour is None:
        return None
    return _finish(tokens, hour[0], hour[1], -value, hour[2])


def minutes_past_hour(tokens: Sequence[Token], i: int, expect_time: bool) -> TimeMatch | None:
    """half past six, ten past seven, twenty after five."""
    minutes = _minutes_word(tokens, i, joined=False)
    if minutes is None or _kind(tokens, minutes[1]) is not Kind.PAST:
        return None
    hour = _hour_at(tokens, minutes[1] + 1)
    if hour is None:
        return None
    return _finish(tokens, hour[0], hour[1], minutes[0], hour[2])


def hour_and_minutes(tokens: Sequence[Token], i: int, expect_time: bool) -> TimeMatch | None:
    """בשש, בשש וחצי, בשבע ועשרים, בעשר בבוקר, at six, 6pm, six thirty, eleven in the morning.

    A number is a time only when something says so: "ב"/"ל"/"מ"/"at"/"בשעה" before it,
    minutes, "o'clock" or a part of day after it, or the assistant having just asked for a time.
    """
    hour = _hour_at(tokens, i)
    if hour is None:
        return None
    value, literal, end = hour
    if i > 0 and tokens[i - 1].surface.lower() in PLACE_WORDS:
        return None  # "the first one" picks an offer; it is not one o'clock
    offset = 0
    minutes = _minutes_less(tokens, end) or _minutes_word(tokens, end, joined=True)
    if minutes is not None:
        offset, end = minutes
    tok = tokens[i]
    matched = _finish(tokens, value, literal, offset, end)
    cued = (
        _kind(tokens, i - 1) is Kind.AT
        or any(letter in tok.prefix for letter in "בלמ")  # at / for / from six
        or (expect_time and not tok.prefix and _kind(tokens, end) is not Kind.AT)  # "I've got one at 2:45"
        or [t.text for t in tokens[max(0, i - 2) : i]] in (["make", "it"], ["make", "that"])  # "make it six"
        or _moved_to(tokens, i)
        or offset != 0
        or matched[1] > end
    )
    return matched if cued else None


def _minutes_less(tokens: Sequence[Token], i: int) -> tuple[int, int] | None:
    """ "פחות רבע", "פחות עשרה" after an hour: (negative minutes, end)."""
    if _kind(tokens, i) is not Kind.LESS:
        return None
    minutes = _minutes_word(tokens, i + 1, joined=False)
    if minutes is None or minutes[0] > 30:
        return None
    return -minutes[0], minutes[1]


def _moved_to(tokens: Sequence[Token], i: int) -> bool:
    """ "move it to 5", "change that to 6": the number after "to" is the new time."""
    if _kind(tokens, i - 1) is not Kind.TO or i < 2:
        return False
    before = tokens[i - 2]
    return before.text in ("it", "that") or before.kind is Kind.INTENT


TIME_RULES: tuple[TimeRule, ...] = (clock_time, minutes_to_hour, minutes_past_hour, hour_and_minutes)
