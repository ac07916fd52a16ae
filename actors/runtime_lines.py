"""The runtime's own lines: the words the caller hears when the model cannot speak them.

When the model is refused, unreachable or frozen, the caller hears the handoff line and the goodbye,
then the call ends politely; a call ended by the server (its maximum duration, a drain) ends with the
goodbye. Each line has fixed words (`LINE_TEXT`) and audio the runtime keeps (docs/audio.md, "The
runtime's own lines"), chosen in this order: a recording the business uploaded, else what the model
said the first time it spoke the line for this business and voice, else a pre-recorded prompt
packaged with callrt (generated offline with espeak-ng, mu-law 8 kHz), one per language.

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
from .prompt import RUNTIME_LINE_TEXT

RuntimeLine = Literal["handoff", "goodbye"]
RUNTIME_LINES: tuple[RuntimeLine, ...] = ("handoff", "goodbye")
LineSource = Literal["uploaded", "model", "packaged"]
_KNOWN_LINES: dict[str, RuntimeLine] = {line: line for line in RUNTIME_LINES}
_STORED_SOURCES: dict[str, LineSource] = {"uploaded": "uploaded", "model": "model"}
"""Stored audio's sources, in the order they win: a business's upload beats the model's words."""
CHUNK_BYTES = 100 * ULAW_BYTES_PER_MS
"""Runtime audio goes to the AudioActor in 100 ms chunks, like the model's deltas."""

LINE_TEXT: dict[RuntimeLine, dict[Language, str]] = {line: RUNTIME_LINE_TEXT[line] for line in RUNTIME_LINES}
"""What each line says: the packaged prompts' words, and the words the prompt asks the model to say, so
that what the model said can stand for the line (`says_line`)."""


@functools.cache
def packaged_line(line: RuntimeLine, language: Language) -> bytes:
    """The pre-recorded prompt shipped with callrt (mu-law 8 kHz mono, no header)."""
    return resources.files("actors").joinpath("prompts", f"{line}-{language}.ulaw").read_bytes()


def says_line(transcript: str, line: RuntimeLine, language: Language) -> bool:
    """Whether the model's words are the line's words (case, punctuation and spacing aside)."""
    return _words(transcript) == _words(LINE_TEXT[line][language])


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

    def audio(self, line: RuntimeLine, language: Language) -> tuple[LineSource, bytes]:
        """The line's audio and where it comes from: uploaded, else the model's, else packaged."""
        for source in _STORED_SOURCES.values():
            if (line, source) in self._audio:
                return source, self._audio[(line, source)]
        return "packaged", packaged_line(line, language)


def chunks(audio: bytes) -> list[bytes]:
    return [audio[start : start + CHUNK_BYTES] for start in range(0, len(audio), CHUNK_BYTES)]


def duration_ms(audio: bytes) -> float:
    return len(audio) / ULAW_BYTES_PER_MS
