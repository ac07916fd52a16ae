"""TurnBook: the call's conversation as the RealtimeActor keeps it, and the caller's speech in flight.

It owns the turns (reloaded from the store by every new instance, then appended in memory and queued
to a `TurnSink` to be written), the caller audio not committed yet (kept, up to 30 s, to re-send after
a reconnect), the utterances committed and not transcribed yet (each with its placeholder turn and its
audio), and which caller items were transcribed already. A caller placeholder is an empty user turn:
"the caller spoke, transcript pending", filled in place when the transcription arrives, so the stored
transcript keeps the caller's words where they were spoken. It also reads the stored turns back after
a restart: what is owed, whether the greeting was said, whether a goodbye is unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

import attrs

from .codec import ULAW_BYTES_PER_MS
from .messages import HistoryTurn
from .realtime_protocol import SERVER_NOTE_PREFIX, TurnRole

MAX_UNCOMMITTED_BYTES = 30_000 * ULAW_BYTES_PER_MS
"""Caller audio kept since the last commit/clear (30 s), re-sent after a reconnect."""

OwedResponse = Literal["caller_unheard", "resume"]


class TurnSink(Protocol):
    """Where new turns are queued for writing (the actor's `TurnWriter`), keyed by their index."""

    def append(self, key: int, role: TurnRole, text: str) -> None: ...

    def fill(self, key: int, text: str) -> None: ...


@attrs.define
class Utterance:
    """Caller speech committed to the model and not transcribed yet: kept to re-send after a reconnect."""

    turn: int
    """Index of its placeholder (an empty user turn) in `turns`."""
    audio: bytes
    item_id: str | None = None
    """The model's item, once this session acknowledged the commit."""


@attrs.frozen
class CallerWords:
    """A caller transcription: its text (empty when the words are not known) and the conversation up to it."""

    text: str
    history: tuple[HistoryTurn, ...]


def note_kind(turn: HistoryTurn) -> str | None:
    """The kind of a stored `[SERVER] <kind> ...` note; None for any other turn."""
    if turn.role != "server" or not turn.text.startswith(SERVER_NOTE_PREFIX):
        return None
    words = turn.text[len(SERVER_NOTE_PREFIX) :].split()
    return words[0] if words else None


def spoken(turns: Sequence[HistoryTurn]) -> tuple[HistoryTurn, ...]:
    """The conversation without caller placeholders (speech not transcribed)."""
    return tuple(turn for turn in turns if turn.text)


class TurnBook:
    def __init__(self, sink: TurnSink) -> None:
        self._sink = sink
        self.turns: list[HistoryTurn] = []
        self.last_user_turn_id: str | None = None
        self.uncommitted = bytearray()
        self._utterances: list[Utterance] = []
        self._transcribed: set[str] = set()
        self._greeted = False

    # ------------------------------------------------------------------ after a restart

    def restore(self, stored: Iterable[tuple[str, str]]) -> None:
        for role, text in stored:
            if role in ("user", "assistant", "server"):
                self.turns.append(HistoryTurn(role=role, text=text))  # type: ignore[arg-type]
        self._greeted = any(turn.role == "assistant" for turn in self.turns)

    def note_kinds(self) -> list[str | None]:
        return [note_kind(turn) for turn in self.turns]

    def goodbye_unanswered(self) -> bool:
        """A goodbye was asked for and the caller has not spoken since: the ladder is at its last stage."""
        goodbye_at = max((i for i, t in enumerate(self.turns) if note_kind(t) == "silence_goodbye"), default=None)
        return goodbye_at is not None and not any(t.role == "user" for t in self.turns[goodbye_at + 1 :])

    def owed_response(self) -> OwedResponse | None:
        """What the previous instance left unanswered: lost speech to ask again for, or a turn to answer.

        An empty user turn is speech committed but never transcribed: the old model session that held
        its audio is gone, so the AI asks the caller to say it again (once per lost utterance).
        """
        last_user = max((i for i, t in enumerate(self.turns) if t.role == "user"), default=None)
        if (
            last_user is not None
            and not self.turns[last_user].text
            and not any(note_kind(t) == "caller_unheard" for t in self.turns[last_user + 1 :])
        ):
            return "caller_unheard"
        if self.turns and self.turns[-1].role != "assistant":
            return "resume"
        return None

    def greeting_due(self) -> bool:
        """Whether the AI is still to speak first: once per call, and never over a reloaded conversation."""
        return not self._greeted and not self.turns

    def take_greeting(self) -> bool:
        """Whether the AI speaks first now (`greeting_due`); it is then no longer due."""
        if not self.greeting_due():
            return False
        self._greeted = True
        return True

    # ------------------------------------------------------------------ turns

    def add(self, role: TurnRole, text: str) -> int:
        """Append a turn in memory and queue its write; returns its index."""
        index = len(self.turns)
        self.turns.append(HistoryTurn(role=role, text=text))
        self._sink.append(index, role, text)
        return index

    def spoken(self) -> tuple[HistoryTurn, ...]:
        return spoken(self.turns)

    # ------------------------------------------------------------------ the caller's speech

    def caller_audio(self, payload: bytes) -> None:
        self.uncommitted += payload
        overflow = len(self.uncommitted) - MAX_UNCOMMITTED_BYTES
        if overflow > 0:
            del self.uncommitted[:overflow]

    def discard_uncommitted(self) -> None:
        """Noise: the model's input buffer is cleared, and so is our copy of it."""
        self.uncommitted.clear()

    def commit(self) -> bool:
        """The caller's utterance ended: False with nothing to commit; else its placeholder is stored.

        The placeholder makes "the caller spoke" durable before the transcript exists.
        """
        if not self.uncommitted:
            return False
        self._utterances.append(Utterance(turn=self.add("user", ""), audio=bytes(self.uncommitted)))
        self.uncommitted.clear()
        return True

    def to_resend(self) -> list[Utterance]:
        """A new session: the utterances whose audio must be committed again, in order, their items unknown.

        Committed speech not transcribed yet died with the old session. Speech the server's VAD committed
        has no audio of ours to re-send: it is forgotten.
        """
        self._utterances = [utterance for utterance in self._utterances if utterance.audio]
        for utterance in self._utterances:
            utterance.item_id = None
        return list(self._utterances)

    def committed(self, item_id: str) -> None:
        self.last_user_turn_id = item_id
        if any(utterance.item_id == item_id for utterance in self._utterances):
            return
        # Commits are acknowledged in the order we sent them.
        waiting = next((u for u in self._utterances if u.item_id is None), None)
        if waiting is None:  # the server's VAD committed by itself
            waiting = Utterance(turn=self.add("user", ""), audio=b"")
            self._utterances.append(waiting)
        waiting.item_id = item_id

    def transcription_failed(self, item_id: str) -> None:
        """Its audio is forgotten (not re-sent after a reconnect); the placeholder stays empty."""
        self._take_utterance(item_id)

    def transcribed(self, item_id: str, transcript: str) -> CallerWords | None:
        """A caller transcription, placed where the caller spoke; None for an item transcribed already."""
        if item_id in self._transcribed:
            return None
        self._transcribed.add(item_id)
        utterance = self._take_utterance(item_id)
        text = transcript.strip()
        if not text:
            return CallerWords(text, ())
        if utterance is None:
            position = self.add("user", text)
        else:
            # A late transcription goes where the caller spoke (its placeholder), before the AI's answer to it.
            position = utterance.turn
            self.turns[position] = HistoryTurn(role="user", text=text)
            self._sink.fill(position, text)
        return CallerWords(text, spoken(self.turns[: position + 1]))

    def _take_utterance(self, item_id: str) -> Utterance | None:
        for index, utterance in enumerate(self._utterances):
            if utterance.item_id == item_id:
                return self._utterances.pop(index)
        return None
