"""The tokenizer: text in, a list of `Token`s out, each looked up in the lexicon.

Hebrew glues one-letter prefixes to words ("ובשש" = and + at + six, "ב-11:15"):
the token keeps them apart as `prefix` so the rules can read them as grammar.
Punctuation is dropped but remembered as a clause boundary, which limits the
reach of a negation ("לא, אני רוצה לבטל" is not "don't cancel").
"""

from __future__ import annotations

import re
import unicodedata

import attrs

from .lexicon import HEBREW_PREFIX_LETTERS, LEXICON, Kind, Lexeme

# One token per alternative; order matters (longest shapes first).
_TOKEN = re.compile(
    r"""
    (?P<prefix>[ובלהמשכ]{1,3}-?)?(?:
        (?P<phone>\+?\d[\d-]{7,}\d)
      | (?P<clock>\d{1,2}:\d{2})
      | (?P<dotted>\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?)
      | (?P<ordinal>\d{1,2})(?:st|nd|rd|th)\b
      | (?P<digits>\d+)
    )
    | (?P<hebrew>[\u05d0-\u05ea]+(?:["״][\u05d0-\u05ea]+|['׳])?)
    | (?P<latin>[a-zA-Z]+(?:'[a-zA-Z]+)?)
    | (?P<boundary>[,.;:!?()\n])
    """,
    re.VERBOSE,
)


@attrs.frozen
class Token:
    text: str
    """The word without its Hebrew prefix, lower-cased (digits as written)."""
    surface: str
    """The word as said, prefix included, original case (names come from here)."""
    prefix: str = ""
    lexeme: Lexeme | None = None
    shape: str = "word"
    """word | number | clock | dotted | ordinal | phone"""
    clause: int = 0

    @property
    def kind(self) -> Kind | None:
        return self.lexeme.kind if self.lexeme else None

    @property
    def value(self) -> object:
        return self.lexeme.value if self.lexeme else None

    def is_(self, *kinds: Kind) -> bool:
        return self.kind in kinds

    @property
    def number(self) -> int | None:
        """The token's value as a plain number (digits or a number word), if it is one."""
        if self.shape in ("number", "ordinal"):
            return int(self.text)
        if self.kind is Kind.NUMBER and isinstance(self.value, int):
            return self.value
        return None


def normalise(text: str) -> str:
    """Unify the spellings a transcriber may produce: quote marks, "a.m."/"p.m.", Hebrew acronyms (אחה"צ)."""
    text = unicodedata.normalize("NFKC", text)
    for typographic, plain in (("׳", "'"), ("’", "'"), ("‘", "'"), ("”", '"'), ("“", '"')):
        text = text.replace(typographic, plain)
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", text, flags=re.IGNORECASE)
    return re.sub(r'(?<=[\u05d0-\u05ea])"(?=[\u05d0-\u05ea])', "״", text)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    clause = 0
    for match in _TOKEN.finditer(normalise(text)):
        kind = match.lastgroup
        surface = match.group(0)
        if kind == "boundary" or surface.lower() in CLAUSE_WORDS:
            clause += 1
        elif kind == "hebrew":
            tokens.append(_hebrew_word(surface, clause))
        elif kind == "latin":
            tokens.extend(_latin_word(surface, clause))
        else:
            assert kind is not None
            prefix = (match.group("prefix") or "").rstrip("-")
            tokens.append(Token(match.group(kind), surface, prefix=prefix, shape=_SHAPES[kind], clause=clause))
    return tokens


_SHAPES = {"phone": "phone", "clock": "clock", "dotted": "dotted", "ordinal": "ordinal", "digits": "number"}


# A word that starts a new clause, as punctuation does: "3 is taken but I have 3:30" offers only 3:30.
CLAUSE_WORDS = frozenset({"but", "אבל"})
APPROXIMATE_SUFFIX = "ish"


def _latin_word(surface: str, clause: int) -> list[Token]:
    """An English word; "fiveish" is "five" + "ish", and "tomorrow's" is "tomorrow" when only the stem is known."""
    word = surface.lower()
    stem = word.removesuffix(APPROXIMATE_SUFFIX)
    if stem != word and _is_number_word(stem):
        cut = len(stem)
        return [
            Token(stem, surface[:cut], lexeme=LEXICON[stem], clause=clause),
            Token(APPROXIMATE_SUFFIX, surface[cut:], lexeme=LEXICON[APPROXIMATE_SUFFIX], clause=clause),
        ]
    possessive = word.removesuffix("'s")
    if word not in LEXICON and possessive != word and possessive in LEXICON:
        return [Token(possessive, surface, lexeme=LEXICON[possessive], clause=clause)]
    return [Token(word, surface, lexeme=LEXICON.get(word), clause=clause)]


def _is_number_word(word: str) -> bool:
    lexeme = LEXICON.get(word)
    return lexeme is not None and lexeme.kind is Kind.NUMBER


def _hebrew_word(surface: str, clause: int) -> Token:
    """Look the word up whole, then with one, two or three prefix letters stripped."""
    for cut in range(4):
        prefix, stem = surface[:cut], surface[cut:]
        if len(stem) < 2 or any(letter not in HEBREW_PREFIX_LETTERS for letter in prefix):
            break
        lexeme = LEXICON.get(stem)
        if lexeme is not None:
            return Token(stem, surface, prefix=prefix, lexeme=lexeme, clause=clause)
    return Token(surface, surface, clause=clause)
