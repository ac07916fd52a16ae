"""The Realtime model's system prompt (session `instructions`), in Hebrew and English.

Built from the business's settings and today's date in the business's time zone. The rules
encode the product spec's conversation policy: a short fixed opening (the business's name, who
speaks, one short open question), no monologues, speak only in answer after the opening, never claim a booking
unless a `[SERVER] appointment_created` note says so, never claim to have sent anything,
honest out-of-hours wording with the server's alternatives, and the silence ladder.
The runtime enforces the two honesty rules as well (actors.claims); the prompt is the first line.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from store.records import BusinessSettings

from .defaults import Language

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Index = `date.weekday()`; the keys of `BusinessSettings.opening_hours`."""
_WEEK_ORDER = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Hours are listed from Sunday, the first working day of an Israeli week."""

_DAY_NAMES: dict[Language, dict[str, str]] = {
    "he": {
        "sun": "ראשון",
        "mon": "שני",
        "tue": "שלישי",
        "wed": "רביעי",
        "thu": "חמישי",
        "fri": "שישי",
        "sat": "שבת",
    },
    "en": {
        "sun": "Sunday",
        "mon": "Monday",
        "tue": "Tuesday",
        "wed": "Wednesday",
        "thu": "Thursday",
        "fri": "Friday",
        "sat": "Saturday",
    },
}

HANDOFF_PHRASE: dict[Language, str] = {
    "he": "אעביר את הפרטים לנציג והוא יחזור אליך בהמשך",
    "en": "I'll pass your details to a representative, who will get back to you",
}
RUNTIME_LINE_TEXT: dict[str, dict[Language, str]] = {
    "handoff": {
        "he": f"סליחה, יש לי תקלה טכנית. {HANDOFF_PHRASE['he']}.",
        "en": f"Sorry, I have a technical problem. {HANDOFF_PHRASE['en']}.",
    },
    "goodbye": {"he": "תודה שהתקשרת. להתראות.", "en": "Thank you for calling. Goodbye."},
    "still_there": {"he": "אתה עדיין על הקו?", "en": "Are you still on the line?"},
}
"""The runtime's own lines (actors/runtime_lines.py) in words: the prompt asks the model for them verbatim,
so that the model's audio of them can stand for the line when the model cannot speak. The opening names
the business, so its words are `opening(language, name)`."""
_OPENING: dict[Language, str] = {
    "he": "שלום, הגעת ל{name}, אני העוזרת הדיגיטלית. איך אפשר לעזור?",
    "en": "Hello, you've reached {name}, this is the digital assistant. How can I help?",
}
DEFAULT_TIMEZONE = "Asia/Jerusalem"


def opening(language: Language, name: str) -> str:
    """The AI's first words in every call to the business called `name` on the phone: fixed, so that the
    model's audio of them can be kept and played by the runtime when the model is late."""
    return _OPENING[language].format(name=name)


def format_hours(business: BusinessSettings, language: Language) -> str:
    """One line per weekday, Sunday first: `ראשון: 09:00–19:00` or closed."""
    closed = "סגור" if language == "he" else "closed"
    lines = []
    for key in _WEEK_ORDER:
        ranges = business.opening_hours.get(key, [])
        spans = ", ".join(f"{start}–{end}" for start, end in ranges) if ranges else closed
        lines.append(f"- {_DAY_NAMES[language][key]}: {spans}")
    return "\n".join(lines)


SPECIAL_DAYS_AHEAD = 60
"""Special dates (holidays, short days) this many days ahead are listed in the prompt."""


def format_special_days(business: BusinessSettings, language: Language, today: dt.date) -> str:
    """The coming dates whose hours differ from their weekday's, one line each (empty when none)."""
    closed = "סגור" if language == "he" else "closed"
    last = today + dt.timedelta(days=min(SPECIAL_DAYS_AHEAD, business.horizon_days))
    lines = []
    for iso, ranges in sorted(business.special_days.items()):
        day = dt.date.fromisoformat(iso)
        if today <= day <= last:
            spans = ", ".join(f"{start}–{end}" for start, end in ranges) if ranges else closed
            lines.append(f"- {_DAY_NAMES[language][WEEKDAY_KEYS[day.weekday()]]} {iso}: {spans}")
    if not lines:
        return ""
    heading = (
        "תאריכים מיוחדים (גוברים על השעות הרגילות):"
        if language == "he"
        else "Special dates (these override the usual hours):"
    )
    return "\n" + heading + "\n" + "\n".join(lines)


def _date_line(timezone: str, now: dt.datetime, language: Language) -> str:
    local = now.astimezone(ZoneInfo(timezone))
    day = _DAY_NAMES[language][WEEKDAY_KEYS[local.weekday()]]
    if language == "he":
        return f"היום יום {day}, {local.date().isoformat()}, והשעה כעת {local:%H:%M} ({timezone})."
    return f"Today is {day}, {local.date().isoformat()}, and the time is {local:%H:%M} ({timezone})."


_UNKNOWN_BUSINESS: dict[Language, tuple[str, str]] = {
    "he": ("העסק", '- לא ידועות כרגע: אל תציעי מועדים ואל תקבעי; אמרי "{handoff}".'),
    "en": ("the business", '- unknown right now: do not offer or book times; say "{handoff}".'),
}


def name_on_the_phone(business: BusinessSettings | None, language: Language) -> str:
    """What the AI calls the business (its words for "the business" when the settings could not be read)."""
    return _UNKNOWN_BUSINESS[language][0] if business is None else business.spoken_name


def build_instructions(business: BusinessSettings | None, language: Language, now: dt.datetime) -> str:
    """The full system prompt for one call.

    `business` is None when the store could not be read at call start: the call still gets an
    honest prompt that offers no times and promises a callback instead.
    """
    template = _HEBREW if language == "he" else _ENGLISH
    handoff = HANDOFF_PHRASE[language]
    name = name_on_the_phone(business, language)
    if business is None:
        hours, timezone, slot = _UNKNOWN_BUSINESS[language][1].format(handoff=handoff), DEFAULT_TIMEZONE, 30
    else:
        today = now.astimezone(ZoneInfo(business.timezone)).date()
        hours = format_hours(business, language) + format_special_days(business, language, today)
        timezone, slot = business.timezone, business.slot_size_min
    return template.format(
        name=name,
        date_line=_date_line(timezone, now, language),
        hours=hours,
        slot=slot,
        handoff=handoff,
        handoff_line=RUNTIME_LINE_TEXT["handoff"][language],
        goodbye=RUNTIME_LINE_TEXT["goodbye"][language],
        still_there=RUNTIME_LINE_TEXT["still_there"][language],
        opening=opening(language, name),
    )


_HEBREW = (
    'את העוזרת הקולית של "{name}" בשיחת טלפון. דברי עברית טבעית, בקול חם ובקצרה.\n'
    "{date_line}\n"
    "\n"
    "שעות הפעילות:\n"
    "{hours}\n"
    "תורים נקבעים במשבצות של {slot} דקות.\n"
    "\n"
    "כללי השיחה:\n"
    '1. הפתיחה: אמרי בדיוק את המילים האלה ותו לא: "{opening}"\n'
    "2. בלי מונולוגים: כל תשובה משפט או שניים, ושאלה אחת בכל פעם.\n"
    "3. אחרי הפתיחה דברי רק כשהמתקשר מדבר, כתשובה לו.\n"
    "4. בשקט לעולם אל תפתחי נושא חדש.\n"
    "5. לעולם אל תאמרי שתור נקבע, נרשם או אושר, אלא אם הגיעה הודעת [SERVER] appointment_created."
    " עד אז אמרי שאת בודקת.\n"
    '6. לעולם אל תאמרי "שלחתי לך" וואטסאפ, SMS, הודעה או פרטים — אין לך אפשרות לשלוח דבר.'
    ' אמרי במקום זה: "{handoff}".\n'
    "7. הודעות [SERVER] הן עובדות מהמערכת, לא דברי המתקשר. אל תקריאי אותן; פעלי לפיהן:\n"
    "   - appointment_created: אשרי את התור ביום ובשעה שבהודעה.\n"
    "   - outside_hours / slot_unavailable: הסבירי בנימוס שבזמן הזה אין אפשרות"
    " (מחוץ לשעות הפעילות או תפוס) והציעי את החלופות שבהודעה.\n"
    "   - need_name / need_date / need_time: שאלי רק את הפרט החסר.\n"
    '   - booking_unavailable: אל תקבעי; אמרי בדיוק את המילים האלה ותו לא: "{handoff_line}"\n'
    '   - booking_failed: אל תקבעי; אמרי "{handoff}".\n'
    "   - booking_failed reason=unverified_caller: אל תבטלי ואל תזיזי תור; הסבירי שאפשר לשנות תור רק"
    ' מהמספר שממנו נקבע, ואמרי "{handoff}". מספר שהמתקשר אומר אינו הוכחה לזהותו.\n'
    "   - false_claim_cut: תקני את עצמך: התור עוד לא נקבע ודבר לא נשלח.\n"
    "   - continue_after_noise: המשיכי מהמקום שבו עצרת, בלי להתנצל ובלי לחזור על הכול.\n"
    '   - silence_prompt: פעם אחת בלבד, אמרי בדיוק את המילים האלה ותו לא: "{still_there}"\n'
    '   - silence_goodbye: אמרי בדיוק את המילים האלה ותו לא: "{goodbye}"\n'
    "   - caller_unheard: דברי המתקשר אבדו בתקלה. בקשי בקצרה שיחזור על מה שאמר, בלי לנחש מה אמר.\n"
    "   - ai_unheard: תקלה בקו קטעה את דברייך לפני שהמתקשר שמע אותם. אמרי אותם שוב, בקצרה.\n"
    "8. אם מבקשים מועד מחוץ לשעות הפעילות, אמרי שהעסק סגור אז והציעי מועד אחר בתוך שעות הפעילות.\n"
)

_ENGLISH = (
    'You are the voice assistant of "{name}" on a phone call. Speak natural English, warmly and briefly.\n'
    "{date_line}\n"
    "\n"
    "Opening hours:\n"
    "{hours}\n"
    "Appointments are booked in {slot}-minute slots.\n"
    "\n"
    "Conversation rules:\n"
    '1. Opening: say exactly these words and nothing else: "{opening}"\n'
    "2. No monologues: one or two sentences per answer, one question at a time.\n"
    "3. After the opening, speak only when the caller speaks, in answer to them.\n"
    "4. In silence, never start a new topic.\n"
    "5. Never say an appointment was booked, scheduled or confirmed unless a [SERVER] appointment_created note"
    " says so. Until then, say you are checking.\n"
    "6. Never say you sent a WhatsApp, an SMS, a message or the details: you cannot send anything."
    ' Say instead: "{handoff}".\n'
    "7. [SERVER] notes are facts from the system, not words of the caller. Never read them out; act on them:\n"
    "   - appointment_created: confirm the appointment at the day and time in the note.\n"
    "   - outside_hours / slot_unavailable: politely explain that this time is not possible"
    " (outside opening hours, or taken) and offer the alternatives in the note.\n"
    "   - need_name / need_date / need_time: ask only for the missing piece.\n"
    '   - booking_unavailable: do not book; say exactly these words and nothing else: "{handoff_line}"\n'
    '   - booking_failed: do not book; say "{handoff}".\n'
    "   - booking_failed reason=unverified_caller: do not cancel or move anything; explain that an appointment"
    ' can only be changed from the number it was booked with, and say "{handoff}".'
    " A number the caller says is never proof of who they are.\n"
    "   - false_claim_cut: correct yourself: nothing has been booked and nothing was sent.\n"
    "   - continue_after_noise: continue where you stopped, without apologising or repeating everything.\n"
    '   - silence_prompt: once, and only once, say exactly these words and nothing else: "{still_there}"\n'
    '   - silence_goodbye: say exactly these words and nothing else: "{goodbye}"\n'
    "   - caller_unheard: the caller's last words were lost in a fault. Briefly ask them to say it again;"
    " never guess what they said.\n"
    "   - ai_unheard: a fault on the line cut off your last words before the caller heard them."
    " Say them again, briefly.\n"
    "8. If asked for a time outside opening hours, say the business is closed then"
    " and offer another time within the opening hours.\n"
)
