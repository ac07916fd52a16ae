"""Who is calling: the caller's name after an introducer ("קוראים לי דנה", "this is Mike"),
or as the bare answer to "what is your name?", and a phone number said aloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .lexicon import (
    CAPITALISED_NAME_INTRODUCERS,
    NAME_INTRODUCERS,
    NAME_STOP_WORDS,
    NOT_NAMES,
    OPENING_NAME_INTRODUCERS,
    OPENING_WORDS,
    SPEAKER_MARKERS,
    Kind,
    Phrase,
    by_first_word,
)
from .tokens import Token

MAX_NAME_WORDS = 2
# Words that can never be a name, even when they are the first word after an introducer.
NOT_A_NAME = frozenset({Kind.INTENT, Kind.RELDAY, Kind.TONIGHT, Kind.NEGATION, Kind.AT, Kind.DAY, Kind.IN})
Strength = Literal["strong", "capitalised", "opening"]
"""How sure an introducer is: "קוראים לי" always introduces; "this is" only a capitalised (or marked)
name; "זה" only at the opening of a turn."""
INTRODUCERS: tuple[tuple[tuple[tuple[str, ...], ...], Strength], ...] = (
    (NAME_INTRODUCERS, "strong"),
    (CAPITALISED_NAME_INTRODUCERS, "capitalised"),
    (OPENING_NAME_INTRODUCERS, "opening"),
)
_STRENGTH: dict[Phrase, Strength] = {phrase: strength for phrases, strength in INTRODUCERS for phrase in phrases}
_INTRODUCERS_BY_FIRST_WORD = by_first_word(tuple(_STRENGTH))


def _introducer_end(tokens: Sequence[Token], i: int) -> tuple[int, Strength] | None:
    """(end, how much the introducer says) when one starts at i; the longest one wins."""
    best: tuple[int, Strength] | None = None
    for phrase in _INTRODUCERS_BY_FIRST_WORD.get(tokens[i].surface.lower(), ()):
        words = tuple(t.surface.lower() for t in tokens[i : i + len(phrase)])
        if words == phrase and (best is None or i + len(phrase) > best[0]):
            best = (i + len(phrase), _STRENGTH[phrase])
    return best


def _name_word(tok: Token, first: bool, clause: int) -> bool:
    if tok.shape != "word" or tok.clause != clause or tok.surface.lower() in NAME_STOP_WORDS:
        return False
    if first:
        return tok.kind not in NOT_A_NAME
    return tok.lexeme is None  # a second word must be unknown to the grammar: "דנה כהן", not "דנה מחר"


def _at_opening(tokens: Sequence[Token], i: int) -> bool:
    """Only greetings come before i ("hi,", "שלום", "good morning"): where callers say who they are."""
    return all(t.surface.lower() in OPENING_WORDS for t in tokens[:i])


def _everyday_word(tok: Token) -> bool:
    return tok.lexeme is not None or tok.surface.lower() in NOT_NAMES or tok.surface.lower() in OPENING_WORDS


def _name_words(tokens: Sequence[Token], start: int) -> int:
    """Where the name starting at `start` ends (at most two words; `start` when there is none)."""
    end = start
    clause = tokens[start].clause if start < len(tokens) else -1
    while end < len(tokens) and end - start < MAX_NAME_WORDS and _name_word(tokens[end], end == start, clause):
        end += 1
    return end


def _marked_as_speaker(tokens: Sequence[Token], end: int) -> bool:
    return end < len(tokens) and tokens[end].surface.lower() in SPEAKER_MARKERS


def introduced_name(tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
    """ "קוראים לי דנה", "שמי דנה כהן", "my name is …", "this is Mike", "שלום, זה יוסי", "Rachel here",
    "רותי מדברת" -> (name, end)."""
    intro = _introducer_end(tokens, i)
    if intro is None:
        return _name_before_marker(tokens, i)
    start, strength = intro
    end = _name_words(tokens, start)
    if end == start:
        return None
    if strength != "strong" and _everyday_word(tokens[start]):
        return None  # "זה בסדר", "it's fine": not a name
    if strength == "opening" and not _at_opening(tokens, i):
        return None
    first = tokens[start].surface
    # "this is" / "it's" / "I'm" also start ordinary sentences: a lower-case word is a name only when
    # the speaker marks it ("this is mike here").
    if strength == "capitalised" and first.isascii() and not first[0].isupper() and not _marked_as_speaker(tokens, end):
        return None
    return " ".join(t.surface for t in tokens[start:end]), end


def _name_before_marker(tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
    """ "hi, Rachel here", "John speaking", "שלום, רותי מדברת" at the opening of a turn."""
    if not _at_opening(tokens, i) or _everyday_word(tokens[i]):
        return None
    end = _name_words(tokens, i)
    if end == i or not _marked_as_speaker(tokens, end) or any(_everyday_word(t) for t in tokens[i:end]):
        return None
    return " ".join(t.surface for t in tokens[i:end]), end + 1


def bare_name(tokens: Sequence[Token]) -> str | None:
    """The whole reply is a name ("דנה", "כן, דנה כהן", "Mike"): only used right after the assistant asked for it."""
    words = [t for t in tokens if t.surface.lower() not in NAME_STOP_WORDS]
    if not 1 <= len(words) <= MAX_NAME_WORDS or len(tokens) > MAX_NAME_WORDS + 2:
        return None
    if any(t.shape != "word" or t.lexeme is not None for t in words):
        return None
    return " ".join(t.surface for t in words)


def phone_number(tok: Token) -> str | None:
    """A phone number said as digits ("050-1234567", "+972501234567"), without separators."""
    if tok.shape != "phone":
        return None
    digits = tok.text.replace("-", "")
    return digits if 9 <= len(digits.lstrip("+")) <= 15 else None
