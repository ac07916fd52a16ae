"""The simulated model's words: deterministic reply templates driven by the conversation.

The RealtimeActor injects server facts as system items `[SERVER] <kind> key=value ...`.
A reply answers the newest such note the model has not answered yet; without one,
the newest user turn gets a short acknowledgement; the very first reply is the
greeting. A booking is only ever claimed after an `appointment_created` note —
except when the `ai_false_claim` fault makes the model lie once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import attrs

from actors.defaults import Language
from actors.prompt import HANDOFF_PHRASE, RUNTIME_LINE_TEXT, opening

Speaker = Literal["user", "assistant", "system"]

_HE_DAYS = ("שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת", "ראשון")
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

FALSE_CLAIM = {"he": "קבעתי לך תור למחר בשש.", "en": "I've booked you for tomorrow at six."}
CALLER_UNHEARD = {
    "he": "סליחה, לא שמעתי את זה. אפשר לחזור על זה?",
    "en": "Sorry, I didn't catch that. Could you say it again?",
}
ACKNOWLEDGE = {"he": "רגע, אני בודקת.", "en": "One moment, let me check."}
HERE = {"he": "כן, אני כאן. איך אפשר לעזור?", "en": "Yes, I'm here. How can I help?"}
CALLBACK = {
    "he": "יש לי כרגע תקלה במערכת התורים. אעביר את הפרטים לנציג והוא יחזור אליך בהמשך.",
    "en": "Our booking system is unavailable right now. "
    "I'll pass your details to a representative who will call you back.",
}
UNVERIFIED_CALLER = {
    "he": "אפשר לשנות תור רק מהמספר שממנו נקבע. ",
    "en": "An appointment can only be changed from the number it was booked with. ",
}


@attrs.frozen
class Turn:
    """One conversation item as the reply planner sees it."""

    speaker: Speaker
    text: str


@attrs.frozen
class ServerNote:
    kind: str
    fields: dict[str, str]


def parse_note(text: str) -> ServerNote | None:
    """`[SERVER] kind a=1 b=x,y` -> ServerNote("kind", {"a": "1", "b": "x,y"}); None if not a note."""
    stripped = text.strip()
    if not stripped.startswith("[SERVER]"):
        return None
    words = stripped[len("[SERVER]") :].split()
    if not words:
        return None
    fields = dict(word.split("=", 1) for word in words[1:] if "=" in word)
    return ServerNote(kind=words[0], fields=fields)


def plan_reply(turns: Sequence[Turn], language: Language, business_name: str) -> str:
    """The text of the next reply, given the conversation so far (oldest first)."""
    last_assistant = max((i for i, turn in enumerate(turns) if turn.speaker == "assistant"), default=-1)
    newer = turns[last_assistant + 1 :]
    notes = [note for turn in newer if turn.speaker == "system" and (note := parse_note(turn.text))]
    if notes:
        previous = turns[last_assistant].text if last_assistant >= 0 else ""
        return note_reply(notes[-1], language, previous)
    if any(turn.speaker == "user" for turn in newer):
        return ACKNOWLEDGE[language]
    if last_assistant < 0:
        return greeting(language, business_name)
    return HERE[language]


def greeting(language: Language, business_name: str) -> str:
    """The opening the prompt gives, word for word."""
    return opening(language, business_name or {"he": "העסק", "en": "the business"}[language])


def note_reply(note: ServerNote, language: Language, previous_reply: str) -> str:
    he = language == "he"
    kind = note.kind
    if kind == "appointment_created":
        when = spoken_time(note.fields.get("start", ""), language)
        return f"מעולה, קבעתי לך תור {when}. נתראה!" if he else f"Great, you're booked for {when}. See you then!"
    if kind == "appointment_rescheduled":
        when = spoken_time(note.fields.get("start", ""), language)
        return f"העברתי את התור {when}." if he else f"Done, your appointment is now {when}."
    if kind == "appointment_cancelled":
        return "ביטלתי את התור. משהו נוסף?" if he else "Your appointment is cancelled. Anything else?"
    if kind in ("outside_hours", "slot_unavailable"):
        alternatives = [spoken_time(t, language) for t in note.fields.get("alternatives", "").split(",") if t]
        offer = _join(alternatives, language)
        if kind == "outside_hours":
            opening = "בזמן הזה אנחנו סגורים." if he else "We're closed at that time."
        else:
            opening = "השעה הזאת כבר תפוסה." if he else "That time is already taken."
        if not offer:
            return opening + (" לאיזה זמן אחר?" if he else " What other time would suit you?")
        return f"{opening} אפשר {offer}. מה מתאים לך?" if he else f"{opening} I can offer {offer}. Which suits you?"
    if kind == "need_name":
        return "על איזה שם לרשום את התור?" if he else "What name should I book it under?"
    if kind == "need_time":
        return "לאיזו שעה?" if he else "What time would suit you?"
    if kind == "need_date":
        return "לאיזה יום?" if he else "Which day would you like?"
    if kind == "silence_prompt":
        return RUNTIME_LINE_TEXT["still_there"][language]
    if kind == "silence_goodbye":
        return RUNTIME_LINE_TEXT["goodbye"][language]
    if kind == "caller_unheard":
        return CALLER_UNHEARD[language]
    if kind == "false_claim_cut":
        return "סליחה, עוד לא קבעתי את התור — אני בודקת." if he else "Sorry, I haven't booked it yet — I'm checking."
    if kind == "ai_unheard":
        return previous_reply or HERE[language]
    if kind == "continue_after_noise":
        first = _first_sentence(previous_reply)
        if not first:
            return HERE[language]
        return f"כמו שאמרתי, {first}" if he else f"As I was saying, {first}"
    if kind == "booking_failed" and note.fields.get("reason") == "unverified_caller":
        return UNVERIFIED_CALLER[language] + HANDOFF_PHRASE[language] + "."
    if kind == "booking_unavailable":
        return RUNTIME_LINE_TEXT["handoff"][language]
    if kind == "booking_failed":
        return CALLBACK[language]
    return ACKNOWLEDGE[language]


def spoken_time(value: str, language: Language) -> str:
    """An ISO local time as words ("יום רביעי 25.11 בשעה 18:00" / "Wednesday 25 November at 18:00").

    A bare "hh:mm" (or anything unparsable) is said as it is.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"בשעה {value}" if language == "he" and ":" in value else value
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if language == "he":
        return f"ליום {_HE_DAYS[moment.weekday()]} {moment.day}.{moment.month} בשעה {clock}"
    return f"{_EN_DAYS[moment.weekday()]} {moment.day} {_EN_MONTHS[moment.month - 1]} at {clock}"


def _join(items: list[str], language: Language) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " או " if language == "he" else " or "
    return ", ".join(items[:-1]) + last + items[-1]


def _first_sentence(text: str) -> str:
    # A sentence ends at . ? ! followed by a space or the end ("25.11" is a date, not an end).
    match = re.match(r"\s*(.*?[.?!])(?:\s|$)", text)
    return match.group(1) if match else text.strip()
