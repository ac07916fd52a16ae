"""The Realtime server events the RealtimeActor reacts to, normalised: the same small frozen classes for
both dialects.

`realtime_protocol.parse_server_event` turns a dialect's JSON into these; everything after the parser
(the actor and its state machines) reads only these classes and never a dialect again. Kept apart from
the parser so the vocabulary can be read, and imported, without the dialects' spellings.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class SessionCreated:
    session_id: str


@attrs.frozen
class SessionUpdated:
    pass


@attrs.frozen
class ResponseCreated:
    response_id: str


@attrs.frozen
class OutputItemAdded:
    response_id: str
    item_id: str


@attrs.frozen
class OutputItemDone:
    response_id: str
    item_id: str


@attrs.frozen
class AudioDelta:
    response_id: str
    item_id: str
    audio: bytes


@attrs.frozen
class AudioDone:
    response_id: str
    item_id: str


@attrs.frozen
class TranscriptDelta:
    response_id: str
    item_id: str
    delta: str


@attrs.frozen
class TranscriptDone:
    response_id: str
    item_id: str
    transcript: str


@attrs.frozen
class ResponseDone:
    response_id: str
    status: str


@attrs.frozen
class InputCommitted:
    item_id: str


@attrs.frozen
class UserTranscriptCompleted:
    item_id: str
    transcript: str


@attrs.frozen
class UserTranscriptFailed:
    item_id: str
    message: str


@attrs.frozen
class Error:
    code: str | None
    message: str
    event_id: str | None = None
    """The id of the client event that caused it, when the server names one."""
    param: str | None = None
    """The parameter it is about (`session.audio.input.transcription.model`), when the server names one."""


@attrs.frozen
class Ignored:
    """A known event the actor has no use for (content parts, rate limits, item echoes ...)."""

    type: str


@attrs.frozen
class Unknown:
    """An event type this dialect does not define: logged and skipped."""

    type: str


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | ResponseCreated
    | OutputItemAdded
    | OutputItemDone
    | AudioDelta
    | AudioDone
    | TranscriptDelta
    | TranscriptDone
    | ResponseDone
    | InputCommitted
    | UserTranscriptCompleted
    | UserTranscriptFailed
    | Error
    | Ignored
    | Unknown
)
