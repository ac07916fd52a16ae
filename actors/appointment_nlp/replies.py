"""How a caller answers what was offered: a yes, a pick by place ("the first one"), a refusal that
ends the request ("no thanks", "never mind"), or a deferral ("I'll call back") that asks for nothing.

These read the words of a turn, not its slots: the dialogue state (`dialogue.py`) decides what
they refer to.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs

from .lexicon import PLACE_WORDS, Kind, Phrase, by_first_word, word_set
from .tokens import Token, tokenize

PARSED_REPLIES_CACHED = 4096

YES_WORDS = word_set(
    """
    כן בסדר מתאים סבבה אוקיי אוקי בטח יופי מעולה נשמע בדיוק מושלם מצוין סגור יאללה
    yes yeah yep yup sure ok okay fine great perfect works sounds
    """
)
NO_WORDS = word_set("לא אין no not nope nah don't can't won't doesn't neither")
# With a no, these close the request rather than answer the offer: "no thanks", "לא, תודה, ביי".
CLOSING_WORDS = word_set("thanks thank anyway bye goodbye תודה ביי להתראות")
DROP_PHRASES: tuple[Phrase, ...] = (
    ("never", "mind"),
    ("nevermind",),
    ("forget", "it"),
    ("forget", "about", "it"),
    ("neither",),
    ("לא", "משנה"),
    ("עזבי",),
    ("עזוב",),
    ("תעזבי",),
    ("אף", "אחד"),
)
# English deferrals: "I'll call back", "call you tomorrow", "get back to you", "check my schedule".
DEFERRAL_PHRASES: tuple[Phrase, ...] = (
    ("call", "back"),
    ("call", "you"),
    ("call", "again"),
    ("call", "later"),
    ("call", "when"),
    ("i'll", "call"),
    ("ring", "back"),
    ("get", "back"),
    ("check", "my"),
    ("check", "with"),
    ("think", "about"),
    ("figure", "it", "out"),
    ("try", "another"),
    ("talk", "to", "my"),
)


@attrs.frozen
class Reply:
    yes: bool = False
    """A yes with no no in it ("כן, מתאים", "sure, that works"; not "no, that's fine")."""
    drops: bool = False
    """A refusal that ends the request: "no thanks", "never mind", "לא משנה", "neither works"."""
    defers: bool = False
    """The caller will call back ("I'll call back", "אחזור אליכם"): nothing in this turn is a request."""
    place: int | None = None
    """Which of several offered times, by place: 0 first, 1 second, -1 last."""


def _words(tokens: Sequence[Token]) -> list[str]:
    return [t.surface.lower() for t in tokens]


_DROPS = by_first_word(DROP_PHRASES)
_DEFERRALS = by_first_word(DEFERRAL_PHRASES)


def _has_phrase(words: Sequence[str], index: dict[str, tuple[Phrase, ...]]) -> bool:
    return any(tuple(words[k : k + len(p)]) == p for k, word in enumerate(words) for p in index.get(word, ()))


@functools.lru_cache(maxsize=PARSED_REPLIES_CACHED)
def read_reply(text: str) -> Reply:
    tokens = tokenize(text)
    words = _words(tokens)
    said = set(words) | {t.text for t in tokens}
    has_no = bool(said & NO_WORDS)
    places = [PLACE_WORDS[w] for w in words if w in PLACE_WORDS]
    return Reply(
        yes=bool(said & YES_WORDS) and not has_no,
        drops=_has_phrase(words, _DROPS) or (has_no and bool(said & CLOSING_WORDS)),
        defers=any(t.kind is Kind.DEFER for t in tokens) or _has_phrase(words, _DEFERRALS),
        place=places[-1] if places else None,
    )
