"""The word tables of the grammar, Hebrew and English: every word the rules know, and what it means.

A word maps to a `Lexeme` (a kind plus a value). Hebrew words are listed without
their one-letter prefixes (ב, ל, ו, ה, מ, ש, כ): the tokenizer strips those and
keeps them on the token, because they carry grammar ("ב" = at, "ל" = to, "מ" = from).
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Literal

import attrs


class Kind(Enum):
    NUMBER = auto()  # value: int
    FRACTION = auto()  # half / quarter, value: minutes
    WEEKDAY = auto()  # value: 0 = Monday ... 6 = Sunday (Python's weekday())
    MONTH = auto()  # value: 1..12
    RELDAY = auto()  # today / tomorrow ..., value: days from today
    TONIGHT = auto()  # this evening: today, evening
    PART = auto()  # part of day, value: PartOfDay
    AMPM = auto()  # value: "am" | "pm"
    AT = auto()  # "at", "שעה": what follows is a time
    OCLOCK = auto()
    DAY = auto()  # "יום", "day": "ביום שלישי", "in 3 days"
    WEEK = auto()  # value: weeks (שבוע = 1, שבועיים = 2)
    MONTH_REF = auto()  # "לחודש": "25 לחודש" = the 25th of this month
    NEXT = auto()
    THIS = auto()
    IN = auto()  # "בעוד", "in": a span from today
    PAST = auto()  # "past", "after": ten past six
    TO = auto()  # "to", "before": quarter to five
    FROM = auto()  # the old slot of a reschedule
    INSTEAD = auto()  # "במקום", "instead (of)"
    OF = auto()
    AND = auto()
    THE = auto()
    NEGATION = auto()
    INTENT = auto()  # value: Intent
    MINUTE_WORD = auto()  # "minutes", "דקות"
    AFTER_NOON = auto()  # "אחר"/"אחרי" in "אחר הצהריים"
    INFO = auto()  # an opening-hours / price question: a slot named in it is not a booking
    LESS = auto()  # "פחות": "שבע פחות רבע" = a quarter to seven
    CORRECTION = auto()  # "sorry", "I mean", "בעצם": what follows replaces what was said
    DEFER = auto()  # "אחזור", "אתקשר": the caller will call back, so this turn asks for nothing
    OUTCOME = auto()  # "בוטל", "moved": what became of a request ("so is it cancelled?"), never a request itself


PartOfDay = Literal["morning", "noon", "afternoon", "evening", "night"]
Intent = Literal["create", "reschedule", "cancel"]


@attrs.frozen
class Lexeme:
    kind: Kind
    value: object = None


Phrase = tuple[str, ...]


def by_first_word(phrases: tuple[Phrase, ...]) -> dict[str, tuple[Phrase, ...]]:
    """Phrases grouped by their first word, so a matcher tries at each word only those that can start there."""
    index: dict[str, tuple[Phrase, ...]] = {}
    for phrase in phrases:
        index[phrase[0]] = (*index.get(phrase[0], ()), phrase)
    return index


def _table(kind: Kind, entries: dict[str, object]) -> dict[str, Lexeme]:
    return {word: Lexeme(kind, value) for word, value in entries.items()}


def word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _words(kind: Kind, words: str, value: object = None) -> dict[str, Lexeme]:
    return dict.fromkeys(word_set(words), Lexeme(kind, value))


HEBREW_NUMBERS: dict[str, object] = {
    # Hours are said in the feminine; the masculine forms appear in dates and minutes.
    "אחת": 1, "אחד": 1, "שתיים": 2, "שתים": 2, "שניים": 2, "שנים": 2, "שתי": 2, "שני": 2,
    "שלוש": 3, "שלושה": 3, "ארבע": 4, "ארבעה": 4, "חמש": 5, "חמישה": 5, "שש": 6, "שישה": 6,
    "שבע": 7, "שבעה": 7, "שמונה": 8, "תשע": 9, "תשעה": 9, "עשר": 10, "עשרה": 10,
    "עשרים": 20, "שלושים": 30, "ארבעים": 40, "חמישים": 50,
}  # fmt: skip
ENGLISH_NUMBERS: dict[str, object] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "oh": 0,
}  # fmt: skip

HEBREW_WEEKDAYS: dict[str, object] = {
    "שני": 0, "שלישי": 1, "רביעי": 2, "חמישי": 3, "שישי": 4, "שבת": 5, "ראשון": 6,
}  # fmt: skip
# "יום ג'": the weekday by its letter (א = Sunday).
HEBREW_WEEKDAY_LETTERS: dict[str, int] = {"א": 6, "ב": 0, "ג": 1, "ד": 2, "ה": 3, "ו": 4}
ENGLISH_WEEKDAYS: dict[str, object] = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip

HEBREW_MONTHS: dict[str, object] = {
    "ינואר": 1, "פברואר": 2, "מרץ": 3, "מרס": 3, "אפריל": 4, "מאי": 5, "יוני": 6, "יולי": 7,
    "אוגוסט": 8, "ספטמבר": 9, "אוקטובר": 10, "נובמבר": 11, "דצמבר": 12,
}  # fmt: skip
ENGLISH_MONTHS: dict[str, object] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "july": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "october": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

PARTS_OF_DAY: dict[str, object] = {
    "בוקר": "morning", "צהריים": "noon", "צהרים": "noon", "ערב": "evening", "לילה": "night",
    "אחה״צ": "afternoon",
    "morning": "morning", "noon": "noon", "midday": "noon", "afternoon": "afternoon",
    "evening": "evening", "night": "night",
}  # fmt: skip

CREATE_WORDS = """
    לקבוע קביעת אקבע נקבע תקבעי תקבע לקבע לזמן להזמין אזמין הזמנה תור תורים פגישה פגישות לבוא להגיע
    פנוי פנויה פנויים מקום
    book booking appointment schedule reserve slot available availability come
"""
RESCHEDULE_WORDS = """
    להזיז להעביר לשנות לדחות להקדים תזיזי תזיז תעבירי תעביר תשני תשנה תדחי תדחה נדחה להחליף
    reschedule move change postpone push
"""
CANCEL_WORDS = "לבטל ביטול מבטל מבטלת תבטלי תבטל תבטלו בטל בטלי לבטלו אבטל cancel canceling cancelling"
# A request's outcome, asked about: "אז התור בוטל?", "did you move it?" ("move" is the intent word already).
OUTCOME_WORDS = """
    בוטל בוטלה מבוטל מבוטלת ביטלת ביטלתם הוזז הוזזה הזזת הזזתם הועבר הועברה העברת העברתם
    נקבעה קבעת קבעתם נרשם נרשמה רשמת רשמתם
    cancelled canceled moved rescheduled booked
"""

LEXICON: dict[str, Lexeme] = {
    **_table(Kind.NUMBER, HEBREW_NUMBERS),
    **_table(Kind.NUMBER, ENGLISH_NUMBERS),
    **_table(Kind.WEEKDAY, HEBREW_WEEKDAYS),
    **_table(Kind.WEEKDAY, ENGLISH_WEEKDAYS),
    **_table(Kind.MONTH, HEBREW_MONTHS),
    **_table(Kind.MONTH, ENGLISH_MONTHS),
    **_table(Kind.RELDAY, {"היום": 0, "מחר": 1, "מחרתיים": 2, "today": 0, "tomorrow": 1}),
    **_words(Kind.TONIGHT, "הערב tonight"),
    **_table(Kind.PART, PARTS_OF_DAY),
    **_table(Kind.FRACTION, {"חצי": 30, "רבע": 15, "half": 30, "quarter": 15}),
    **_table(Kind.AMPM, {"am": "am", "pm": "pm"}),
    **_words(Kind.AT, "שעה בשעה at around about סביבות"),
    **_words(Kind.OCLOCK, "o'clock oclock ish"),  # "5ish" is split into "5" + "ish"
    **_words(Kind.DAY, "יום ימים day days"),
    **_table(Kind.WEEK, {"שבוע": 1, "שבועיים": 2, "week": 1, "weeks": 1}),
    **_words(Kind.MONTH_REF, "חודש month"),
    **_words(Kind.NEXT, "הבא הבאה next"),
    **_words(Kind.THIS, "this הקרוב הקרובה"),
    **_words(Kind.IN, "עוד in"),
    **_words(Kind.PAST, "past after"),
    **_words(Kind.TO, "to before till"),
    **_words(Kind.FROM, "from"),
    **_words(Kind.INSTEAD, "במקום instead"),
    **_words(Kind.OF, "of"),
    **_words(Kind.AND, "and"),
    **_words(Kind.THE, "the"),
    **_words(Kind.NEGATION, "לא אל don't dont not never can't cannot won't"),
    **_words(Kind.AFTER_NOON, "אחר אחרי"),
    **_words(Kind.INFO, "פתוחים פתוח פתוחה סגורים סגור מחיר עולה open closed hours price cost"),
    **_words(Kind.INTENT, CREATE_WORDS, "create"),
    **_words(Kind.INTENT, RESCHEDULE_WORDS, "reschedule"),
    **_words(Kind.INTENT, CANCEL_WORDS, "cancel"),
    **_words(Kind.MINUTE_WORD, "דקות דקה minutes minute"),
    **_words(Kind.LESS, "פחות"),
    **_words(Kind.CORRECTION, "סליחה כלומר בעצם רגע sorry mean meant actually wait rather scratch say"),
    **_words(Kind.DEFER, "אחזור אתקשר נתקשר אבדוק אחשוב נחזור"),
    **_words(Kind.OUTCOME, OUTCOME_WORDS),
}

# Words that end a name ("קוראים לי דנה ואני רוצה…", "this is Mike from…").
NAME_STOP_WORDS = word_set(
    """
    אני ואני רוצה רציתי רוצים צריך צריכה צריכים אפשר תודה ותודה שלום היי הי גם אז כן לא בבקשה את אתה
    ו ה של עם על זה זו מה מתי איך יש לי לכם ורוצה וצריך וצריכה ואפשר מדבר מדברת
    and i i'd i'm im want would like please thanks thank calling here from speaking with for to at on
    is it's the a an my me about hello hi hey yes no so but can could just
    """
)

# Multi-word name introducers, as token texts; the name follows.
NAME_INTRODUCERS: tuple[tuple[str, ...], ...] = (
    ("קוראים", "לי"),
    ("שמי",),
    ("השם", "שלי"),
    ("השם", "הוא"),
    ("על", "שם"),
    ("בשם",),
    ("מדברת",),
    ("מדבר",),
    ("my", "name", "is"),
    ("name", "is"),
    ("name's",),
    ("under", "the", "name"),
    ("under", "the", "name", "of"),
    ("call", "me"),
)
# English introducers that also start ordinary sentences ("this is about…"): the name must be capitalised.
CAPITALISED_NAME_INTRODUCERS: tuple[tuple[str, ...], ...] = (
    ("this", "is"),
    ("it's",),
    ("i'm",),
    ("i", "am"),
)

# "שלום, זה יוסי": "זה" ("this is") introduces only at the opening of a turn ("זה בסדר" is "that's fine").
OPENING_NAME_INTRODUCERS: tuple[tuple[str, ...], ...] = (("זה",),)

HEBREW_PREFIX_LETTERS = "ובלהמשכ"

# A wish or a request ("אני רוצה תור", "I need an appointment"): with it, an appointment noun asks for a booking;
# without it ("אני מתקשר לגבי התור שלי") the noun only names an appointment.
REQUEST_WORDS = word_set("רוצה רוצים רציתי צריך צריכה צריכים אפשר want wanted need like get could can")
# "בוקר טוב", "good evening": a greeting, not a part of day.
GREETING_WORDS = word_set("טוב good")
# What may come before a name said at the opening of a turn ("hi, Rachel here", "שלום, זה יוסי").
OPENING_WORDS = word_set("שלום היי הי אהלן הלו כן בוקר ערב טוב אממ hi hey hello yeah yes good morning evening oh um so")
# After a weak introducer ("זה …", "this is … here"): everyday words that are never the caller's name.
NOT_NAMES = word_set(
    """
    בסדר טוב מתאים מעולה נכון יופי סגור נהדר מצוין אפשרי ממש רק גם הכל לגבי בקשר קשור בדיוק
    great fine good okay ok me him her urgent regarding about
    """
)
# In an offer, a clause with one of these does not offer its time: "3 is taken", "בשלוש אין", "we close at 7",
# "our hours are 9 until 7" ("3 is open" does offer 3).
REFUSAL_WORDS = word_set(
    "taken booked full closed close unavailable hours until till תפוס תפוסה תפוסים אין סגורים סגור מלא פתוחים עד"
)
# Said right after a name: the speaker introduces themselves ("Rachel here", "רותי מדברת").
SPEAKER_MARKERS = word_set("here speaking calling מדברת מדבר")
# "the first one", "השני": which of several offered times; -1 is the last one.
PLACE_WORDS: dict[str, int] = {
    "first": 0, "earlier": 0, "earliest": 0, "second": 1, "third": 2, "last": -1, "later": -1, "latest": -1,
    "הראשון": 0, "הראשונה": 0, "המוקדם": 0, "המוקדמת": 0, "השני": 1, "השנייה": 1, "השניה": 1,
    "השלישי": 2, "השלישית": 2, "האחרון": -1, "האחרונה": -1, "המאוחר": -1, "המאוחרת": -1,
}  # fmt: skip
