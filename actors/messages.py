"""Every message that crosses a mailbox, grouped by the actor that receives it.

Messages are frozen attrs classes: immutable, cheap, comparable, and traceable
field by field. Each actor's inbox is typed by the union at the end of its group.
Times are call-relative milliseconds (virtual under MockClock) unless a field
says otherwise; wall-clock datetimes appear only in booking messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

# --------------------------------------------------------------------------
# Lifecycle: understood by every actor's control inbox.


@attrs.frozen
class InjectedCrash:
    """Fault injection: the receiving actor raises, as if it had a bug."""

    reason: str = "injected"


# --------------------------------------------------------------------------
# AudioActor: caller frames (the bounded audio mailbox) ...


@attrs.frozen
class CallerFrame:
    """One inbound Twilio media frame: 20 ms of 8 kHz mu-law (160 bytes)."""

    payload: bytes
    timestamp_ms: int
    received_at: float = 0.0
    """When the frame reached the server, on trio's clock: the socket's kernel receive time where the line
    adapter knows it, else when the adapter read it (frame-lag metric, barge-in reaction)."""


# ... and its control mailbox.


@attrs.frozen
class MarkPlayed:
    """Twilio echoed a mark: all AI audio queued before it has been played."""

    name: str


@attrs.frozen
class CallerDtmf:
    digit: str


@attrs.frozen
class AiAudio:
    """A chunk of AI speech (mu-law) for the caller, from the model."""

    response_id: str
    item_id: str
    payload: bytes


@attrs.frozen
class AiAudioDone:
    """The model finished streaming audio for this item (playout may still go on)."""

    response_id: str
    item_id: str


@attrs.frozen
class StopPlayback:
    """Drop every unplayed AI chunk now (Twilio `clear`): e.g. a false claim was cut.

    With `item_id`, the AudioActor answers `PlayoutStopped` with what the caller heard of it."""

    reason: str
    item_id: str | None = None


@attrs.frozen
class HangUpAfterPlayout:
    """End the call once everything queued so far has been heard (the goodbye)."""

    reason: str


AudioControl = MarkPlayed | CallerDtmf | AiAudio | AiAudioDone | StopPlayback | HangUpAfterPlayout | InjectedCrash

# --------------------------------------------------------------------------
# RealtimeActor


@attrs.frozen
class CallerAudio:
    """Caller audio (mu-law) to append to the model's input buffer, batched."""

    payload: bytes


@attrs.frozen
class UtteranceStarted:
    at_ms: float
    rms: float


@attrs.frozen
class UtteranceEnded:
    """A real utterance ended: commit the input buffer and ask for a response."""

    at_ms: float
    duration_ms: float
    rms: float
    silence_ms: float


@attrs.frozen
class NoiseIgnored:
    """A voiced segment shorter than `min_voice_ms`: clear the input buffer.

    `interrupted_ai` is true when this noise had triggered a barge-in: the AI
    must then be asked to continue, so the call never goes mute.
    """

    at_ms: float
    duration_ms: float
    rms: float
    interrupted_ai: bool = False


@attrs.frozen
class BargeIn:
    """The caller spoke over audible AI audio; playback was already cleared.

    `audio_end_ms` is what the caller really heard of `item_id`, from acknowledged marks.
    """

    item_id: str
    audio_end_ms: int
    speech_at_ms: float


@attrs.frozen
class PlayoutFinished:
    """Every queued chunk of this item has been played at the caller (last mark came back)."""

    item_id: str
    heard_ms: int


@attrs.frozen
class PlayoutStopped:
    """Playback was stopped on request (`StopPlayback` with `item_id`); `heard_ms` is what the caller
    really heard of `item_id` until then, from acknowledged marks."""

    item_id: str
    heard_ms: int


@attrs.frozen
class PlayoutLost:
    """A restarted AudioActor cleared the caller's line: what its predecessors had not played of `item_ids`
    (the items they took audio of) is gone, and what still arrives for them is dropped. Nothing says how
    much of them the caller heard. Items no instance took yet are still played whole. A caller's segment the
    dead instance had started (`UtteranceStarted`) will never be ended by the new one."""

    item_ids: frozenset[str]


@attrs.frozen
class SilenceElapsed:
    """Nothing audible from either side for `silence_ms` since the AI finished or the caller spoke."""

    silence_ms: float


NoteKind = Literal[
    "appointment_created",
    "appointment_rescheduled",
    "appointment_cancelled",
    "outside_hours",
    "slot_unavailable",
    "need_name",
    "need_time",
    "need_date",
    "booking_failed",
    "booking_unavailable",
    "false_claim_cut",
    "continue_after_noise",
    "silence_prompt",
    "silence_goodbye",
    "caller_unheard",
    "ai_unheard",
]


@attrs.frozen
class ServerNote:
    """A fact the server established, injected into the model as `[SERVER] {text}`.

    Only these notes entitle the AI to confirm a booking (`appointment_created`).
    """

    kind: NoteKind
    text: str
    appointment_id: int | None = None


RealtimeInbox = (
    CallerAudio
    | UtteranceStarted
    | UtteranceEnded
    | NoiseIgnored
    | BargeIn
    | PlayoutFinished
    | PlayoutStopped
    | PlayoutLost
    | SilenceElapsed
    | ServerNote
    | InjectedCrash
)

# --------------------------------------------------------------------------
# NlpActor


@attrs.frozen
class HistoryTurn:
    role: Literal["user", "assistant", "server"]
    text: str


@attrs.frozen
class UserTranscript:
    """A completed caller transcription, with the conversation so far (this turn last)."""

    turn_id: str
    text: str
    history: tuple[HistoryTurn, ...]


NlpInbox = UserTranscript | InjectedCrash

# --------------------------------------------------------------------------
# BookingActor

BookingKind = Literal["create_appointment", "reschedule_appointment", "cancel_appointment"]


@attrs.frozen
class BookingRequest:
    """A booking action the NLP found; every piece it did not find is None."""

    request_id: str
    kind: BookingKind
    start: dt.datetime | None
    name: str | None
    phone: str | None
    """The number the caller said aloud, else the caller line: a contact for a new booking, never proof of
    who the caller is (actors.caller_identity)."""
    asked_again: bool = False
    """The caller asked again for the action handed on last: it is answered even when the answer is unchanged."""


BookingInbox = BookingRequest | InjectedCrash

# --------------------------------------------------------------------------
# CallSupervisor

EndedBy = Literal["caller", "ai", "supervisor"]


@attrs.frozen
class EndCall:
    """Ask the supervisor to end the call (sent after the line was hung up or lost)."""

    by: EndedBy
    reason: str


SupervisorInbox = EndCall
