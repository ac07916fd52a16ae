"""Detection of the two claims the AI must never make on its own: "I booked it" and "I sent you the details".

Used twice: by the RealtimeActor's false-claim guard on the AI's streaming transcript
(so a claim is cut before the caller hears it), and by the scenario runner's
invariant checks on what the caller heard. Pure functions, Hebrew and English.

The patterns are deliberately about *completed* actions in the first person or the
passive ("קבעתי לך", "התור נקבע", "I've booked", "you're booked") and promises of a
message the system cannot send ("אשלח לך SMS", "you'll get a WhatsApp"). Offers and
questions ("לקבוע לך?", "shall I book?") and the honest hand-off the prompt asks for
("אעביר את הפרטים לנציג והוא יחזור אליך בהמשך") do not match. A match preceded by a
negation ("לא קבעתי", "not booked") is ignored.
"""

from __future__ import annotations

import re
from typing import Literal

Claim = Literal["booking", "sent_details"]

_MESSAGE = (
    r"(?:sms|whats\s?app|וואטסאפ|ווטסאפ|וואצאפ|הודעה|הודעת|מסרון|מייל|אימייל"
    r"|text(?: message)?|message|e-?mail|confirmation|the details|details)"
)

_BOOKING_PATTERNS = (
    # Hebrew: first person past ("I booked/scheduled/reserved/registered/confirmed for you")
    r"(?:קבעתי|קבענו|שריינתי|שריינו|רשמתי|רשמנו|הזמנתי|הזמנו|אישרתי|אישרנו|סגרתי|סגרנו)\s+(?:לך|לכם|לך\s+את|את|אותך|אותכם)",
    r"(?:קבעתי|קבענו|שריינתי|שריינו|רשמתי|רשמנו|סגרתי|סגרנו)\s+(?:תור|פגישה|את\s+התור|את\s+הפגישה)",
    # Hebrew: passive ("the appointment was booked / is confirmed", "you are registered")
    r"(?:התור|הפגישה|התור\s+שלך|הפגישה\s+שלך|התור\s+שלכם)\s+(?:נקבע|נקבעה|נרשם|נרשמה|שוריין|שוריינה|מאושר|מאושרת|אושר|אושרה|נסגר|נסגרה)",
    r"(?:אתה|את|אתם)\s+(?:רשום|רשומה|רשומים|קבוע|קבועה)\s+(?:ל|אצלנו|בתור)",
    r"(?:נקבע|נקבעה|נרשם|נרשמה)\s+(?:לך|לכם)\s+(?:תור|פגישה)",
    # Hebrew: a moved appointment is a booking too ("I moved your appointment")
    r"(?:העברתי|העברנו|הזזתי|הזזנו)\s+(?:לך\s+|לכם\s+)?(?:את\s+)?(?:התור|הפגישה)",
    # English
    r"\bi(?:'ve| have)?\s+(?:just\s+)?"
    r"(?:booked|scheduled|reserved|confirmed|penciled you in|pencilled you in)\b",
    r"\bwe(?:'ve| have)?\s+(?:just\s+)?(?:booked|scheduled|reserved|confirmed)\b",
    r"\byou(?:'re| are)\s+(?:all\s+)?(?:booked|scheduled|confirmed|registered)\b",
    r"\byou(?:'re| are) all set for\b",
    r"\b(?:your|the)\s+(?:appointment|booking|reservation|slot)\s+(?:is|has been|was)\s+"
    r"(?:now\s+)?(?:booked|scheduled|confirmed|set|reserved|made)\b",
    r"\bbooked you (?:in|for)\b",
    r"\bi(?:'ve| have)?\s+(?:just\s+)?(?:moved|rescheduled)\s+(?:your|the)\s+(?:appointment|booking)\b",
    r"\b(?:your|the)\s+(?:appointment|booking)\s+(?:is|has been|was)\s+(?:now\s+)?(?:moved|rescheduled)\b",
)

_SENT_PATTERNS = (
    # Hebrew: "I sent you", "we sent", "a message was sent", and promises to send one
    r"(?:שלחתי|שלחנו)\s+(?:לך|לכם|את)",
    r"(?:נשלח|נשלחה|נשלחו)\s+(?:לך|לכם|אליך)",
    r"(?:אשלח|אני\s+שולח|אני\s+שולחת|אנחנו\s+שולחים)\s+(?:לך|לכם|אליך)",
    rf"(?:תקבל|תקבלי|תקבלו|יישלח|תישלח)\s+(?:לך\s+)?(?:\S+\s+)?{_MESSAGE}",
    # English
    r"\bi(?:'ve| have)?\s+(?:just\s+)?(?:sent|texted|messaged|emailed|e-mailed|whatsapped)\s+you\b",
    r"\bwe(?:'ve| have)?\s+(?:just\s+)?(?:sent|texted|messaged|emailed)\s+you\b",
    r"\bi(?:'ll| will)\s+(?:now\s+)?(?:send|text|message|email|whatsapp)\s+you\b",
    rf"\byou(?:'ll| will)\s+(?:shortly\s+|soon\s+)?(?:get|receive)\s+(?:a|an|the)\s+(?:\S+\s+)?{_MESSAGE}",
    rf"\b(?:sent|texted)\s+(?:you\s+)?(?:a|an|the)\s+(?:\S+\s+)?{_MESSAGE}",
    r"\bcheck your (?:whats\s?app|phone|messages|texts|inbox|email)\b",
)

_NEGATION = re.compile(
    r"(?:\bלא|\bטרם|\bnot|\bnever|n't)\s*$",
)


def _compile(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


BOOKING_CLAIMS = _compile(_BOOKING_PATTERNS)
"""The booking claims, compiled; `affirmed` reads them (tests check each pattern on its own)."""
SENT_CLAIMS = _compile(_SENT_PATTERNS)
"""The 'details sent' claims, compiled."""


def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex that matches wherever one of `patterns` does.

    It is a necessary condition for a claim, checked first because nearly all of what the AI says
    claims nothing: one scan instead of one per pattern. The patterns that begin at a word boundary
    share a single `\\b`, so the engine tries them only where a word starts; each one alone, led by
    `\\b`, gave `re` no literal to skip ahead to and cost a full scan of the text."""
    bounded = [pattern.removeprefix(r"\b") for pattern in patterns if pattern.startswith(r"\b")]
    unbounded = [f"(?:{pattern})" for pattern in patterns if not pattern.startswith(r"\b")]
    return re.compile("|".join([*unbounded, r"\b(?:" + "|".join(f"(?:{p})" for p in bounded) + ")"]), re.IGNORECASE)


_ANY_CLAIM = _any_of(_BOOKING_PATTERNS + _SENT_PATTERNS)


def normalise(text: str) -> str:
    """Lower case, straight apostrophes, single spaces: transcripts arrive in many spellings."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u05f3", "'")
    return " ".join(text.lower().split())


_NEGATION_REACH = 24
"""Characters before a match in which a negation counts: only the word right before it ("לא קבעתי לך");
farther words belong to other clauses."""


def affirmed(patterns: tuple[re.Pattern[str], ...], text: str, first_start: int = 0) -> bool:
    """Whether a match starting at `first_start` or later is not negated."""
    for pattern in patterns:
        for match in pattern.finditer(text, first_start):
            before = text[max(0, match.start() - _NEGATION_REACH) : match.start()]
            if not _NEGATION.search(before):
                return True
    return False


def detect_claim(text: str, first_start: int = 0) -> Claim | None:
    """The claim `text` makes, if any; a booking claim wins when both are present.

    With `first_start`, only claims starting that far into the normalised text count: what comes
    before is context, read only for a negation."""
    clean = normalise(text)
    if _ANY_CLAIM.search(clean, first_start) is None:
        return None
    if affirmed(BOOKING_CLAIMS, clean, first_start):
        return "booking"
    if affirmed(SENT_CLAIMS, clean, first_start):
        return "sent_details"
    return None


CLAIM_REACH = 160
"""Characters before new text that a claim ending in it can start from, its negation included: in
text as transcripts are written (single spaces, words of ordinary length) the longest claim with
the longest negation before it is well under half of this. A claim stretched beyond it by padding
is still found by the whole-transcript check when the transcript is done."""


def detect_new_claim(text: str, checked: int) -> Claim | None:
    """The claim of a streaming transcript that `text[:checked]` did not already make.

    The guard checks after every delta; scanning the whole transcript each time made its cost grow
    with the square of the reply's length. A claim that ends in the new text starts within
    `CLAIM_REACH` of it; older text was checked when it arrived."""
    start = checked - CLAIM_REACH - _NEGATION_REACH
    if start <= 0:
        return detect_claim(text)
    # From a word's start: `\b` must not take the tail of a cut word for a word.
    space = text.find(" ", start, checked)
    if space < 0:
        return detect_claim(text)
    # The window's first `_NEGATION_REACH` characters are only there to show a negation: a claim
    # that starts in them lies in text already checked.
    return detect_claim(text[space:], first_start=_NEGATION_REACH)
