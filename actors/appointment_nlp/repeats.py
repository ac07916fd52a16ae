"""Whether a caller's turn asks about the booking request again: asks for it once more ("cancel it
please", "can you move it to 5:30?"), names its day or time, or asks how it went ("so is it
cancelled?", "אז התור בוטל?"); not a turn that only goes on talking ("thanks", "great", "ביי").

An extractor reads the whole conversation, in which a request, once made, stays the caller's current
one: the action read after "thanks" is the action read after "cancel it please". This reading of the
latest turn alone tells them apart, whichever extractor read the action: the NlpActor hands an action
on again only for a turn that asks about it, so that the server answers the caller a second time,
and only then.
"""

from __future__ import annotations

import datetime as dt

from .lexicon import Kind
from .tokens import tokenize
from .utterance import parse_utterance


def asks_again(text: str, today: dt.date) -> bool:
    """The caller's turn `text` asks for a booking action, names a slot, or asks what became of a request.

    A question about an outcome is never a request by itself ("is my appointment cancelled?" cancels
    nothing): it only makes the server repeat its answer to a request already handed on."""
    said = parse_utterance(text, today)
    return said.intent is not None or said.names_slot or any(t.is_(Kind.OUTCOME) for t in tokenize(text))
