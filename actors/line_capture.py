"""LineCapture: the model's audio of the runtime's own lines, taken the first time the model says one.

The prompt (actors/prompt.py) asks the model for each of the runtime's lines in their exact words, as a
whole response: the opening (the `greeting` response), "are you still on the line?" (after the
`silence_prompt` note), the goodbye to a silent caller (after `silence_goodbye`) and the handoff line when
booking is unavailable (after `booking_unavailable`). Such a response's audio is collected as it streams
and handed back when the response is done, if all of these hold:

* the business has no model audio of the line in this voice yet (the first one stays);
* the response completed: not cut by a barge-in or a claim cut, not failed or incomplete;
* its transcript is the line's words (`runtime_lines.says_line`; the opening's name the business): the
  model may have said more, or something else, and then its audio does not stand for the line;
* its audio lasts at most `store.voice_lines.MAX_AUDIO_MS`.

No I/O here; the actor stores what is handed back.
"""

from __future__ import annotations

import attrs

from store.voice_lines import MAX_AUDIO_BYTES

from .runtime_lines import RuntimeLine, VoiceLines, says_line

CAPTURED: dict[str, RuntimeLine] = {
    "greeting": "greeting",
    "silence_prompt": "still_there",
    "silence_goodbye": "goodbye",
    "booking_unavailable": "handoff",
}
"""The reason a response was asked for -> the runtime line it says."""


@attrs.define
class _Taking:
    line: RuntimeLine
    audio: bytearray = attrs.field(factory=bytearray)
    transcript: str = ""


class LineCapture:
    def __init__(self, lines: VoiceLines, words: dict[RuntimeLine, str]) -> None:
        self._lines = lines
        self.words = words
        """What each line says in this call (`runtime_lines.line_words`)."""
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
        if not says_line(taking.transcript, self.words[taking.line]):
            return None
        return taking.line, bytes(taking.audio)

    def connection_dropped(self) -> None:
        self._taking.clear()  # a response cut off by the connection never completes
