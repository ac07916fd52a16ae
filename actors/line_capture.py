"""LineCapture: the model's audio of the runtime's own lines, taken the first time the model says one.

The prompt (actors/prompt.py) asks the model for two of the runtime's lines in their exact words, each as
a whole response: the goodbye to a silent caller (after the `silence_goodbye` note) and the handoff line
when booking is unavailable (after `booking_unavailable`). Such a response's audio is collected as it
streams and handed back when the response is done, if all of these hold:

* the business has no model audio of the line in this voice yet (the first one stays);
* the response completed: not cut by a barge-in or a claim cut, not failed or incomplete;
* its transcript is the line's words (`runtime_lines.says_line`): the model may have said more, or
  something else, and then its audio does not stand for the line;
* its audio lasts at most `store.voice_lines.MAX_AUDIO_MS`.

The greeting and "are you still on the line?" are not taken: the runtime never says them itself (a model
that cannot speak means the handoff line at once), and the greeting's first sentence cannot be cut out of
its response's audio reliably (the transcript says nothing about where in the audio a sentence ends).
No I/O here; the actor stores what is handed back.
"""

from __future__ import annotations

import attrs

from store.voice_lines import MAX_AUDIO_BYTES

from .defaults import Language
from .runtime_lines import RuntimeLine, VoiceLines, says_line

CAPTURED: dict[str, RuntimeLine] = {"silence_goodbye": "goodbye", "booking_unavailable": "handoff"}
"""The reason a response was asked for -> the runtime line it says."""


@attrs.define
class _Taking:
    line: RuntimeLine
    audio: bytearray = attrs.field(factory=bytearray)
    transcript: str = ""


class LineCapture:
    def __init__(self, lines: VoiceLines, language: Language) -> None:
        self._lines = lines
        self._language = language
        self._taking: dict[str, _Taking] = {}

    def response_created(self, response_id: str, reason: str | None) -> None:
        line = CAPTURED.get(reason or "")
        if line is not None and not self._lines.has(line, "model"):
            self._taking[response_id] = _Taking(line)

    def audio(self, response_id: str, payload: bytes) -> None:
        taking = self._taking.get(response_id)
        if taking is None:
            return
        taking.audio += payload
        if len(taking.audio) > MAX_AUDIO_BYTES:
            del self._taking[response_id]  # longer than any line: not the line

    def transcript(self, response_id: str, text: str) -> None:
        taking = self._taking.get(response_id)
        if taking is not None:
            taking.transcript = text

    def done(self, response_id: str, completed: bool) -> tuple[RuntimeLine, bytes] | None:
        """The line and its audio, when this response is one to keep; else None."""
        taking = self._taking.pop(response_id, None)
        if taking is None or not completed or not taking.audio:
            return None
        if not says_line(taking.transcript, taking.line, self._language):
            return None
        return taking.line, bytes(taking.audio)

    def connection_dropped(self) -> None:
        self._taking.clear()  # a response cut off by the connection never completes
