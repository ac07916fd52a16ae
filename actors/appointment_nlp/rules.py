"""The offline rule extractor: folds the conversation, turn by turn, into one `Action`.

Each caller turn is parsed on its own (`parse_utterance`); the conversation keeps
the latest value of every piece, so "בעצם, אפשר בשבע במקום?" changes the time and
keeps the date, the name and the intent. Assistant turns only tell what was just
asked (a bare "דנה" after "what is your name?" is a name). Server notes
(`[SERVER] …`) are context, never the caller's intent: an `appointment_created`
note makes a later new slot a reschedule of that appointment, and the free starts a
refusal offers (`alternatives=`) give a short answer its slot: a bare time that is one
of them takes that one's day ("9:30" after "Friday is closed; Sunday at 9 or 9:30?"),
and a bare "yes" to the assistant's proposal takes the only one offered.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import attrs

from ..messages import HistoryTurn
from .action import Action, ActionKind
from .lexicon import Intent
from .tokens import tokenize
from .utterance import Expectation, Utterance, parse_utterance

SERVER_PREFIX = "[SERVER]"
PARSED_TURNS_CACHED = 4096
"""Parsed turns kept across extractions: every extraction folds the whole history again, so without
the cache a call's NLP cost grows with the square of its turns."""
ACTION_OF_INTENT: dict[Intent, ActionKind] = {
    "create": "create_appointment",
    "reschedule": "reschedule_appointment",
    "cancel": "cancel_appointment",
}
# Words in an assistant question that say what it asks for.
QUESTION_WORDS: dict[Expectation, frozenset[str]] = {
    "name": frozenset({"שם", "השם", "שמך", "קוראים", "name"}),
    "time": frozenset({"שעה", "time", "when", "מתי"}),
    "date": frozenset({"יום", "תאריך", "day", "date", "when", "מתי"}),
    "phone": frozenset({"טלפון", "מספר", "phone", "number"}),
}


@attrs.define
class _Conversation:
    """The pieces known so far, updated turn by turn."""

    intent: Intent | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    name: str | None = None
    phone: str | None = None
    booked: bool = False
    """The server confirmed an appointment in this call (and it was not cancelled since)."""
    offered: tuple[dt.datetime, ...] = ()
    """The free starts the server's last refusal offered instead (business time), until the next booking note."""

    def hear_server(self, text: str, zone: ZoneInfo) -> None:
        if "appointment_cancelled" in text:
            self.booked = False
            self.offered = ()
        elif "appointment_created" in text or "appointment_rescheduled" in text:
            self.booked = True
            self.offered = ()
        elif "slot_unavailable" in text or "outside_hours" in text:
            self.offered = offered_slots(text, zone)

    def take_offer(self, said: Utterance, says_yes: bool) -> Utterance:
        """The caller's short answer to an offer, completed from it (unchanged when it is not one, or ambiguous)."""
        if not self.offered or said.date is not None or said.intent == "cancel":
            return said
        if said.time is not None:
            same_time = [slot for slot in self.offered if slot.time() == said.time]
            return attrs.evolve(said, date=same_time[0].date()) if len(same_time) == 1 else said
        if says_yes and len(self.offered) == 1:
            return attrs.evolve(said, date=self.offered[0].date(), time=self.offered[0].time())
        return said

    def hear_caller(self, said: Utterance) -> None:
        intent = said.intent
        changes_slot = (said.date is not None and said.date != self.date) or (
            said.time is not None and said.time != self.time
        )
        if intent is None and self.booked and changes_slot and self.intent in (None, "create", "reschedule"):
            intent = "reschedule"  # "actually, seven instead?" after the booking was confirmed
        elif intent is None and self.intent is None and said.time is not None and not said.info_question:
            intent = "create"  # a caller naming a time on a booking line wants that time
        if intent == "reschedule" and self.intent == "create" and not self.booked:
            intent = "create"  # "can we move it to seven?" before anything was booked revises the request
        self.intent = intent or self.intent
        self.date = said.date or self.date
        self.time = said.time or self.time
        self.name = said.name or self.name
        self.phone = said.phone or self.phone

    def action(self, timezone: str) -> Action:
        if self.intent is None:
            return Action("none")
        return Action.build(ACTION_OF_INTENT[self.intent], self.date, self.time, timezone, self.name, self.phone)


def is_server_turn(turn: HistoryTurn) -> bool:
    return turn.role == "server" or turn.text.lstrip().startswith(SERVER_PREFIX)


_ALTERNATIVES = re.compile(r"\balternatives=(\S+)")


def offered_slots(note: str, zone: ZoneInfo) -> tuple[dt.datetime, ...]:
    """The starts a refusal note offers (`alternatives=2026-11-29T09:00+02:00,…`) in business time; an entry
    that is not an ISO date-time with its offset is skipped."""
    match = _ALTERNATIVES.search(note)
    if match is None:
        return ()
    slots = []
    for text in match.group(1).split(","):
        try:
            slot = dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        if slot.tzinfo is not None:
            slots.append(slot.astimezone(zone))
    return tuple(slots)


YES_WORDS = frozenset(
    {"כן", "בסדר", "מתאים", "סבבה", "אוקיי", "אוקי", "בטח", "יופי", "מעולה", "נשמע", "בדיוק"}
    | {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "fine", "great", "perfect", "works", "sounds"}
)
NO_WORDS = frozenset({"לא", "אין", "no", "not", "nope", "don't", "can't", "won't"})


@functools.lru_cache(maxsize=PARSED_TURNS_CACHED)
def says_yes(text: str) -> bool:
    """A yes without a no anywhere in it ("כן, מתאים", "sure, that works"; not "no, that's fine")."""
    words = {token.surface.lower() for token in tokenize(text)}
    return bool(words & YES_WORDS) and not words & NO_WORDS


@functools.lru_cache(maxsize=PARSED_TURNS_CACHED)
def asked_for(text: str, today: dt.date) -> frozenset[Expectation]:
    """What an assistant turn asks the caller for. Proposing a time ("would 3 work?") asks for a time."""
    tokens = tokenize(text)
    words = {t.surface.lower() for t in tokens} | {t.text for t in tokens}
    asked = {kind for kind, cues in QUESTION_WORDS.items() if words & cues}
    if parse_utterance(text, today).time is not None:
        asked.add("time")
    return frozenset(asked)


_parse_caller_turn = functools.lru_cache(maxsize=PARSED_TURNS_CACHED)(parse_utterance)
"""`parse_utterance` is a pure function of its arguments and `Utterance` is frozen: safe to share."""


def clear_parse_cache() -> None:
    """Forget every parsed turn (benchmarks measure parsing from cold with it)."""
    _parse_caller_turn.cache_clear()
    asked_for.cache_clear()
    says_yes.cache_clear()


class RuleExtractor:
    """Hebrew and English rules, no network: the default extractor and the LLM's fallback."""

    def extract_sync(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        zone = ZoneInfo(timezone)
        today = now.astimezone(zone).date()
        conversation = _Conversation()
        expect: frozenset[Expectation] = frozenset()
        for turn in history:
            if is_server_turn(turn):
                conversation.hear_server(turn.text, zone)
            elif turn.role == "assistant":
                expect = asked_for(turn.text, today)
            else:
                said = _parse_caller_turn(turn.text, today, expect)
                # A yes counts only as the answer to a proposal: the assistant's last turn named a time.
                conversation.hear_caller(conversation.take_offer(said, "time" in expect and says_yes(turn.text)))
                expect = frozenset()
        return conversation.action(timezone)

    async def extract(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        # Pure CPU work of tens of microseconds: no thread needed.
        return self.extract_sync(history, now, timezone)
