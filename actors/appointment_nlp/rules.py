"""The offline rule extractor: reads the conversation turn by turn into a `DialogueState`, then one `Action`.

Each caller turn is parsed on its own (`parse_utterance`) and read as a reply (`read_reply`);
the dialogue state (`dialogue.py`) folds them in. Assistant turns tell what was just asked (a
bare "דנה" after "what is your name?" is a name, a bare "רביעי" after "which day?" a day) and
what was offered. Server notes (`[SERVER] …`) are context, never the caller's intent.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from ..messages import HistoryTurn
from .action import Action
from .dialogue import DialogueState
from .replies import read_reply
from .tokens import tokenize
from .utterance import Expectation, parse_utterance

SERVER_PREFIX = "[SERVER]"
PARSED_TURNS_CACHED = 4096
"""Parsed turns kept across extractions: every extraction folds the whole history again, so without
the cache a call's NLP cost grows with the square of its turns."""
# Words in an assistant question that say what it asks for.
QUESTION_WORDS: dict[Expectation, frozenset[str]] = {
    "name": frozenset({"שם", "השם", "שמך", "קוראים", "name"}),
    "time": frozenset({"שעה", "time", "when", "מתי"}),
    "date": frozenset({"יום", "תאריך", "day", "date", "when", "מתי"}),
    "phone": frozenset({"טלפון", "מספר", "phone", "number"}),
}


ASSISTANT_NUMBERS_ARE_TIMES: frozenset[Expectation] = frozenset({"time"})
"""The assistant speaks of times: "Thursday I have 4 or 5" offers two."""


def is_server_turn(turn: HistoryTurn) -> bool:
    return turn.role == "server" or turn.text.lstrip().startswith(SERVER_PREFIX)


_parse_turn = functools.lru_cache(maxsize=PARSED_TURNS_CACHED)(parse_utterance)
"""`parse_utterance` is a pure function of its arguments and `Utterance` is frozen: safe to share."""


@functools.lru_cache(maxsize=PARSED_TURNS_CACHED)
def asked_for(text: str, today: dt.date) -> frozenset[Expectation]:
    """What an assistant turn asks the caller for. Proposing a time ("would 3 work?") asks for a time,
    offering a day ("Thursday at 10 or Friday at 2") for a day."""
    tokens = tokenize(text)
    words = {t.surface.lower() for t in tokens} | {t.text for t in tokens}
    asked = {kind for kind, cues in QUESTION_WORDS.items() if words & cues}
    said = _parse_turn(text, today, ASSISTANT_NUMBERS_ARE_TIMES)
    if said.time is not None:
        asked.add("time")
    if any(day is not None for day, _ in said.slots):
        asked.add("date")
    return frozenset(asked)


def clear_parse_cache() -> None:
    """Forget every parsed turn (benchmarks measure parsing from cold with it)."""
    _parse_turn.cache_clear()
    asked_for.cache_clear()
    read_reply.cache_clear()


class RuleExtractor:
    """Hebrew and English rules, no network: the default extractor and the LLM's fallback."""

    def extract_sync(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        zone = ZoneInfo(timezone)
        today = now.astimezone(zone).date()
        state = DialogueState()
        expect: frozenset[Expectation] = frozenset()
        for turn in history:
            if is_server_turn(turn):
                state.hear_server(turn.text, zone)
            elif turn.role == "assistant":
                expect = asked_for(turn.text, today)
                state.hear_assistant(_parse_turn(turn.text, today, ASSISTANT_NUMBERS_ARE_TIMES))
            else:
                said = _parse_turn(turn.text, today, expect, state.week_ahead)
                state.hear_caller(said, read_reply(turn.text))
                expect = frozenset()
        return state.action(timezone, now)

    async def extract(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        # Pure CPU work of tens of microseconds: no thread needed.
        return self.extract_sync(history, now, timezone)
