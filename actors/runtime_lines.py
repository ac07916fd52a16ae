"""The runtime's own lines: the words the caller hears when the model cannot speak them.

When the model is given up (refused, unreachable, frozen again), the caller hears the handoff line and
the goodbye, then the call ends politely; a call ended by the server (its maximum duration, a drain)
ends with the goodbye. While the model is only late (not connected yet, reconnecting, or just found
frozen), the runtime says in its place the opening, "are you still on the line?" and the silence
goodbye. Each line has fixed words (`line_words`: the opening names the business) and audio the runtime
keeps (docs/audio.md, "The runtime's own lines"), chosen in this order: a recording the business
uploaded, else what the model said the first time it spoke the line for this business and voice, else
a pre-recorded prompt packaged with callrt (generated offline with espeak-ng, mu-law 8 kHz), one per
language. The opening has no packaged prompt (it names the business): without the business's audio of
it, the runtime does not say it.

`VoiceLines` holds the business's audio for one call: loaded once as the call starts, so that saying a
line never waits for the database (until it is loaded, or when it could not be, the packaged prompt
plays). No I/O here but reading the package's files.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from typing import Literal

from store import VoiceLineAudio

from .codec import ULAW_BYTES_PER_MS
from .defaults import Language
from .prompt import RUNTIME_LINE_TEXT, opening

RuntimeLine = Literal["greeting", "still_there", "handoff", "goodbye"]
RUNTIME_LINES: tuple[RuntimeLine, ...] = ("greeting", "still_there", "handoff", "goodbye")
PackagedLine = Literal["still_there", "handoff", "goodbye"]
PACKAGED_LINES: tuple[PackagedLine, ...] = ("still_there", "handoff", "goodbye")
LineSource = Literal["uploaded", "model", "packaged"]
_KNOWN_LINES: dict[str, RuntimeLine] = {line: line for line in RUNTIME_LINES}
_STORED_SOURCES: dict[str, LineSource] = {"uploaded": "uploaded", "model": "model"}
"""Stored audio's sources, in the order they win: a business's upload beats the model's words."""
CHUNK_BYTES = 100 * ULAW_BYTES_PER_MS
"""Runtime audio goes to the AudioActor in 100 ms chunks, like the model's deltas."""

_PACKAGED: dict[str, PackagedLine] = {line: line for line in PACKAGED_LINES}


def line_words(language: Language, business_name: str) -> dict[RuntimeLine, str]:
    """What each line says in a call to the business called `business_name` on the phone: the words the
    prompt asks the model to say, so that what the model said can stand for the line (`says_line`), and
    the packaged prompts' words."""
    words: dict[RuntimeLine, str] = {line: RUNTIME_LINE_TEXT[line][language] for line in PACKAGED_LINES}
    return {"greeting": opening(language, business_name), **words}


@functools.cache
def packaged_line(line: PackagedLine, language: Language) -> bytes:
    """The pre-recorded prompt shipped with callrt (mu-law 8 kHz mono, no header)."""
    return resources.files("actors").joinpath("prompts", f"{line}-{language}.ulaw").read_bytes()


def says_line(transcript: str, words: str) -> bool:
    """Whether the model's words are the line's words (case, punctuation and spacing aside)."""
    return _words(transcript) == _words(words)


def _words(text: str) -> str:
    kept = "".join(" " if unicodedata.category(char).startswith("P") else char for char in text.casefold())
    return re.sub(r"\s+", " ", kept).strip()


class VoiceLines:
    """The business's audio for the runtime's lines, in this call's language and voice."""

    def __init__(self) -> None:
        self.loaded = False
        """Whether the business's audio was read (False: only the packaged prompts are known)."""
        self._audio: dict[tuple[RuntimeLine, LineSource], bytes] = {}

    def load(self, stored: Iterable[VoiceLineAudio], language: Language) -> None:
        for entry in stored:
            line, source = _KNOWN_LINES.get(entry.line), _STORED_SOURCES.get(entry.source)
            if entry.language == language and line is not None and source is not None:
                self._audio[(line, source)] = entry.audio
        self.loaded = True

    def kept(self, line: RuntimeLine, source: LineSource, audio: bytes) -> None:
        """Audio of a line saved during this call (the model's): a later line in this call plays it too."""
        self._audio.setdefault((line, source), audio)

    def has(self, line: RuntimeLine, source: LineSource) -> bool:
        return (line, source) in self._audio

    def audio(self, line: RuntimeLine, language: Language) -> tuple[LineSource, bytes] | None:
        """The line's audio and where it comes from: uploaded, else the model's, else packaged (None: the
        opening, which has no packaged prompt, before the business has audio of it)."""
        for source in _STORED_SOURCES.values():
            if (line, source) in self._audio:
                return source, self._audio[(line, source)]
        packaged = _PACKAGED.get(line)
        return None if packaged is None else ("packaged", packaged_line(packaged, language))


def chunks(audio: bytes) -> list[bytes]:
    return [audio[start : start + CHUNK_BYTES] for start in range(0, len(audio), CHUNK_BYTES)]


def duration_ms(audio: bytes) -> float:
    return len(audio) / ULAW_BYTES_PER_MS
