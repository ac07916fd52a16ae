"""Who is calling: the caller's name after an introducer ("קוראים לי דנה", "this is Mike"),
or as the bare answer to "what is your name?", and a phone number said aloud.
"""

from __future__ import annotations

from collections.abc import Sequence

from .lexicon import CAPITALISED_NAME_INTRODUCERS, NAME_INTRODUCERS, NAME_STOP_WORDS, Kind
from .tokens import Token

MAX_NAME_WORDS = 2
# Words that can never be a name, even when they are the first word after an introducer.
NOT_A_NAME = frozenset({Kind.INTENT, Kind.RELDAY, Kind.TONIGHT, Kind.NEGATION, Kind.AT, Kind.DAY, Kind.IN})


def _introducer_end(tokens: Sequence[Token], i: int) -> tuple[int, bool] | None:
    """(end, the name must be capitalised) when an introducer starts at i; the longest one wins."""
    best: tuple[int, bool] | None = None
    for phrases, capitalised in ((NAME_INTRODUCERS, False), (CAPITALISED_NAME_INTRODUCERS, True)):
        for phrase in phrases:
            words = [t.surface.lower() for t in tokens[i : i + len(phrase)]]
            if tuple(words) == phrase and (best is None or i + len(phrase) > best[0]):
                best = (i + len(phrase), capitalised)
    return best


def _name_word(tok: Token, first: bool, capitalised: bool, clause: int) -> bool:
    if tok.shape != "word" or tok.clause != clause or tok.surface.lower() in NAME_STOP_WORDS:
        return False
    if capitalised and tok.surface.isascii() and not tok.surface[0].isupper():
        return False
    if first:
        return tok.kind not in NOT_A_NAME
    return tok.lexeme is None  # a second word must be unknown to the grammar: "דנה כהן", not "דנה מחר"


def introduced_name(tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
    """ "קוראים לי דנה", "שמי דנה כהן", "על שם …", "my name is …", "this is Mike" -> (name, end)."""
    intro = _introducer_end(tokens, i)
    if intro is None:
        return None
    start, capitalised = intro
    end = start
    while end < len(tokens) and end - start < MAX_NAME_WORDS:
        if not _name_word(tokens[end], end == start, capitalised, tokens[start].clause if start < len(tokens) else -1):
            break
        end += 1
    if end == start:
        return None
    return " ".join(t.surface for t in tokens[start:end]), end


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
