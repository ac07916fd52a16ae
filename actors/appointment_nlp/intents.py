"""What the caller wants to do: book, move or cancel, read from intent words and their negation.

Cancel outranks reschedule, which outranks create: "I want to cancel my appointment"
contains "appointment" but is a cancellation. A negated word does not count
("לא רוצה לבטל"), except that "I can't come" / "לא אוכל להגיע" is itself a cancellation.
"""

from __future__ import annotations

from collections.abc import Sequence

from .lexicon import REQUEST_WORDS, Intent, Kind
from .tokens import Token

NEGATION_REACH = 4
"""A negation reaches this many words ahead within its clause ("I don't want to cancel")."""
COMING_WORDS = frozenset({"להגיע", "לבוא", "come", "make"})
# Nouns name the appointment in any request; only verbs say "book a new one".
APPOINTMENT_NOUNS = frozenset({"תור", "תורים", "פגישה", "פגישות", "appointment", "slot", "booking"})
PRIORITY: tuple[Intent, ...] = ("cancel", "reschedule", "create")


def _negated(tokens: Sequence[Token], k: int) -> bool:
    clause = tokens[k].clause
    window = tokens[max(0, k - NEGATION_REACH) : k]
    return any(t.kind is Kind.NEGATION and t.clause == clause for t in window)


def intent_of(tokens: Sequence[Token], new_slot: bool) -> Intent | None:
    """The utterance's intent; `new_slot`: it names a date or time that is not the old one."""
    found: set[Intent] = set()
    booking_verb = False
    requested = any(t.surface.lower() in REQUEST_WORDS or t.text in REQUEST_WORDS for t in tokens)
    for k, tok in enumerate(tokens):
        is_make_it = tok.text == "make" and k + 1 < len(tokens) and tokens[k + 1].text == "it"
        if tok.kind is not Kind.INTENT and not is_make_it:
            continue
        if _negated(tokens, k):
            if tok.text in COMING_WORDS:
                found.add("cancel")
            continue
        if is_make_it:
            continue
        intent: Intent = tok.value  # type: ignore[assignment]
        noun = tok.text in APPOINTMENT_NOUNS
        if intent == "create" and noun and not (new_slot or requested):
            continue  # "אני מתקשר לגבי התור שלי" names an appointment, asks for nothing yet
        found.add(intent)
        booking_verb = booking_verb or (intent == "create" and not noun)
    if "cancel" in found and booking_verb and new_slot:
        return "reschedule"  # "cancel Monday and book Tuesday instead"
    return next((intent for intent in PRIORITY if intent in found), None)


def is_info_question(tokens: Sequence[Token]) -> bool:
    """ "Are you open tomorrow?", "כמה עולה…": a slot named here is not a booking request."""
    return any(t.kind is Kind.INFO for t in tokens)
