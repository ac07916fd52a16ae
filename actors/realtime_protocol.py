"""The OpenAI Realtime protocol, both dialects, as pure data: client-event builders and a server-event parser.

No I/O here. Two spellings of the same protocol exist:

* ``"beta"`` — `gpt-4o-realtime-preview` with the `OpenAI-Beta: realtime=v1` header: flat session
  fields (`modalities`, `input_audio_format: "g711_ulaw"`, `input_audio_transcription`, `temperature`),
  audio events `response.audio.delta` / `response.audio_transcript.*`.
* ``"ga"`` — `gpt-realtime`: `session.type = "realtime"`, nested `audio.input` / `audio.output` with
  format objects (`{"type": "audio/pcmu"}`), `output_modalities`, no temperature, audio events
  `response.output_audio.delta` / `response.output_audio_transcript.*`.

Everything the RealtimeActor reacts to is normalised into the small frozen event classes of
`realtime_events` (re-exported here), so the actor never looks at a dialect again. Field names and
shapes follow `openai.types.beta.realtime` and `openai.types.realtime` (the tests validate the builders
and fixtures against those models).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any, Literal

from .codec import base64_decoded_size
from .config import CallConfig
from .defaults import DEFAULT_DIALECT as DEFAULT_DIALECT
from .defaults import DIALECTS as DIALECTS
from .defaults import Dialect as Dialect

# `X as X`: explicit re-exports, so callers read one module for the whole protocol.
from .realtime_events import AudioDelta as AudioDelta
from .realtime_events import AudioDone as AudioDone
from .realtime_events import Error as Error
from .realtime_events import Ignored as Ignored
from .realtime_events import InputCommitted as InputCommitted
from .realtime_events import OutputItemAdded as OutputItemAdded
from .realtime_events import OutputItemDone as OutputItemDone
from .realtime_events import ResponseCreated as ResponseCreated
from .realtime_events import ResponseDone as ResponseDone
from .realtime_events import ServerEvent as ServerEvent
from .realtime_events import SessionCreated as SessionCreated
from .realtime_events import SessionUpdated as SessionUpdated
from .realtime_events import TranscriptDelta as TranscriptDelta
from .realtime_events import TranscriptDone as TranscriptDone
from .realtime_events import Unknown as Unknown
from .realtime_events import UserTranscriptCompleted as UserTranscriptCompleted
from .realtime_events import UserTranscriptFailed as UserTranscriptFailed

logger = logging.getLogger("callrt.realtime.protocol")

MIN_TEMPERATURE = 0.6
MAX_TEMPERATURE = 1.2
"""The beta session's `temperature` range; the API rejects a session.update outside it."""

TurnRole = Literal["user", "assistant", "server"]

SERVER_NOTE_PREFIX = "[SERVER]"


def check_dialect(dialect: str) -> Dialect:
    if dialect == "beta":
        return "beta"
    if dialect == "ga":
        return "ga"
    raise ValueError(f"unknown Realtime dialect {dialect!r} (expected 'beta' or 'ga')")


# --------------------------------------------------------------------------
# Client events


def clamp_temperature(requested: float) -> float:
    """The requested temperature within the API's range, with a warning when it had to move.

    The product spec asks 0.15-0.2 for phone calls; the Realtime API refuses anything below 0.6,
    so the session gets 0.6 and the low temperature is applied where it is allowed (the NLP model).
    """
    clamped = min(max(requested, MIN_TEMPERATURE), MAX_TEMPERATURE)
    if clamped != requested:
        logger.warning(
            "Realtime temperature %.2f is outside the API range [%.1f, %.1f]; using %.2f",
            requested,
            MIN_TEMPERATURE,
            MAX_TEMPERATURE,
            clamped,
        )
    return clamped


def session_update(dialect: Dialect, config: CallConfig, instructions: str, language: str | None) -> dict[str, Any]:
    """`session.update` per the product spec: audio only, mu-law both ways, whisper transcription, no tools.

    There are deliberately no `tools` / `tool_choice` keys: booking is server-side, never a model tool.
    Turn detection is off (`null`) because the AudioActor decides turns, unless `config.server_vad`.
    """
    transcription: dict[str, Any] = {"model": config.transcription_model}
    if language:
        transcription["language"] = language
    turn_detection: dict[str, Any] | None = {"type": "server_vad"} if config.server_vad else None
    if dialect == "beta":
        return {
            "type": "session.update",
            "session": {
                "modalities": ["audio", "text"],
                "instructions": instructions,
                "voice": config.voice,
                "input_audio_format": "g711_ulaw",
                "output_audio_format": "g711_ulaw",
                "input_audio_transcription": transcription,
                "turn_detection": turn_detection,
                "temperature": clamp_temperature(config.temperature),
            },
        }
    # The GA session has no temperature field at all.
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": instructions,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": transcription,
                    "turn_detection": turn_detection,
                },
                "output": {"format": {"type": "audio/pcmu"}, "voice": config.voice},
            },
        },
    }


def input_audio_append(payload: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(payload).decode("ascii")}


def input_audio_commit() -> dict[str, Any]:
    return {"type": "input_audio_buffer.commit"}


def input_audio_clear() -> dict[str, Any]:
    return {"type": "input_audio_buffer.clear"}


def render_note(kind: str, text: str) -> str:
    """The text of a server note as the model sees it: always `[SERVER] <kind> ...`, machine-readable."""
    body = text.strip()
    if not body.startswith(kind):
        body = f"{kind} {body}".strip()
    return f"{SERVER_NOTE_PREFIX} {body}"


def text_item(dialect: Dialect, role: TurnRole, text: str) -> dict[str, Any]:
    """`conversation.item.create` with a text message: server notes become system messages.

    Used for `[SERVER]` notes and, on reconnect, to replay the stored conversation as text.
    Assistant text is `text` content in beta and `output_text` in GA.
    """
    if role == "assistant":
        content = {"type": "text" if dialect == "beta" else "output_text", "text": text}
        api_role = "assistant"
    else:
        content = {"type": "input_text", "text": text}
        api_role = "user" if role == "user" else "system"
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": api_role, "content": [content]},
    }


def response_create(aloud: Dialect | None = None) -> dict[str, Any]:
    """`response.create`; with `aloud` (the session's dialect), this response is asked for in audio explicitly
    (after a text-only answer: the session's own setting did not hold)."""
    if aloud is None:
        return {"type": "response.create"}
    modalities = {"modalities": ["audio", "text"]} if aloud == "beta" else {"output_modalities": ["audio"]}
    return {"type": "response.create", "response": modalities}


def response_cancel(response_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.cancel"}
    if response_id:
        event["response_id"] = response_id
    return event


def item_truncate(item_id: str, audio_end_ms: int, content_index: int = 0) -> dict[str, Any]:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": max(0, int(audio_end_ms)),
    }


def summarise_client_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Trace fields for an outgoing event: its type and the few fields worth seeing, never audio."""
    kind = str(event.get("type", "?"))
    fields: dict[str, Any] = {"type": kind}
    if kind == "input_audio_buffer.append":
        fields["bytes"] = base64_decoded_size(str(event.get("audio", "")))  # not decoded: 100 ms or more
    elif kind == "conversation.item.create":
        item = event.get("item", {})
        content = item.get("content", [{}]) if isinstance(item, Mapping) else [{}]
        fields["role"] = item.get("role") if isinstance(item, Mapping) else None
        fields["text"] = content[0].get("text") if content and isinstance(content[0], Mapping) else None
    elif kind == "conversation.item.truncate":
        fields["item_id"] = event.get("item_id")
        fields["audio_end_ms"] = event.get("audio_end_ms")
    elif kind == "response.cancel":
        fields["response_id"] = event.get("response_id")
    return fields


# --------------------------------------------------------------------------
# Server events, normalised into `realtime_events`

_AUDIO_EVENTS: dict[Dialect, dict[str, str]] = {
    "beta": {
        "response.audio.delta": "audio_delta",
        "response.audio.done": "audio_done",
        "response.audio_transcript.delta": "transcript_delta",
        "response.audio_transcript.done": "transcript_done",
    },
    "ga": {
        "response.output_audio.delta": "audio_delta",
        "response.output_audio.done": "audio_done",
        "response.output_audio_transcript.delta": "transcript_delta",
        "response.output_audio_transcript.done": "transcript_done",
    },
}

_IGNORED_COMMON = frozenset(
    {
        "conversation.created",
        "conversation.item.created",
        "conversation.item.deleted",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.input_audio_transcription.delta",
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "rate_limits.updated",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
    }
)
_IGNORED: dict[Dialect, frozenset[str]] = {
    "beta": _IGNORED_COMMON | {"response.text.delta", "response.text.done", "transcription_session.updated"},
    "ga": _IGNORED_COMMON
    | {
        "response.output_text.delta",
        "response.output_text.done",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.dtmf_event_received",
    },
}


class MalformedEvent(ValueError):
    """A server event of a known type whose fields are missing or of the wrong type."""


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(f"{raw.get('type')}: field {key!r} missing or not a string")
    return value


def _obj(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"{raw.get('type')}: field {key!r} missing or not an object")
    return value


def _audio(raw: Mapping[str, Any]) -> bytes:
    try:
        return base64.b64decode(_str(raw, "delta"), validate=True)
    except binascii.Error as exc:
        raise MalformedEvent(f"{raw.get('type')}: delta is not base64") from exc


def _parse_audio_family(kind: str, raw: Mapping[str, Any]) -> ServerEvent:
    response_id, item_id = _str(raw, "response_id"), _str(raw, "item_id")
    if kind == "audio_delta":
        return AudioDelta(response_id, item_id, _audio(raw))
    if kind == "audio_done":
        return AudioDone(response_id, item_id)
    if kind == "transcript_delta":
        return TranscriptDelta(response_id, item_id, _str(raw, "delta"))
    return TranscriptDone(response_id, item_id, _str(raw, "transcript"))


def _parse_known(dialect: Dialect, kind: str, raw: Mapping[str, Any]) -> ServerEvent:
    family = _AUDIO_EVENTS[dialect].get(kind)
    if family is not None:
        return _parse_audio_family(family, raw)
    if kind == "session.created":
        return SessionCreated(str(_obj(raw, "session").get("id", "")))
    if kind == "session.updated":
        return SessionUpdated()
    if kind == "response.created":
        return ResponseCreated(_str(_obj(raw, "response"), "id"))
    if kind == "response.done":
        response = _obj(raw, "response")
        return ResponseDone(_str(response, "id"), str(response.get("status") or "completed"))
    if kind == "response.output_item.added":
        return OutputItemAdded(_str(raw, "response_id"), _str(_obj(raw, "item"), "id"))
    if kind == "response.output_item.done":
        return OutputItemDone(_str(raw, "response_id"), _str(_obj(raw, "item"), "id"))
    if kind == "input_audio_buffer.committed":
        return InputCommitted(_str(raw, "item_id"))
    if kind == "conversation.item.input_audio_transcription.completed":
        return UserTranscriptCompleted(_str(raw, "item_id"), _str(raw, "transcript"))
    if kind == "conversation.item.input_audio_transcription.failed":
        error = raw.get("error")
        message = str(error.get("message", "")) if isinstance(error, Mapping) else ""
        return UserTranscriptFailed(_str(raw, "item_id"), message)
    if kind == "error":
        error = _obj(raw, "error")
        code, cause, param = error.get("code"), error.get("event_id"), error.get("param")
        return Error(
            code if isinstance(code, str) else None,
            str(error.get("message", "")),
            cause if isinstance(cause, str) else None,
            param if isinstance(param, str) else None,
        )
    if kind in _IGNORED[dialect]:
        return Ignored(kind)
    return Unknown(kind)


def parse_server_event(dialect: Dialect, raw: Mapping[str, Any]) -> ServerEvent | None:
    """The normalised event, `Unknown` for a type this dialect does not define, None when malformed.

    Malformed and unknown events are logged here; the caller just skips them.
    """
    kind = raw.get("type")
    if not isinstance(kind, str):
        logger.warning("Realtime event without a type skipped: keys=%s", sorted(raw)[:8])
        return None
    try:
        event = _parse_known(dialect, kind, raw)
    except MalformedEvent as exc:
        logger.warning("Malformed Realtime event skipped: %s", exc)
        return None
    if isinstance(event, Unknown):
        logger.warning("Unknown Realtime event type %r (dialect %s) skipped", kind, dialect)
    return event


def summarise_server_event(raw: Mapping[str, Any], event: ServerEvent | None) -> dict[str, Any]:
    """Trace fields for an incoming event: ids, statuses, text; audio only as a byte count."""
    fields: dict[str, Any] = {"type": raw.get("type")}
    if isinstance(event, AudioDelta):
        fields.update(response_id=event.response_id, item_id=event.item_id, bytes=len(event.audio))
    elif isinstance(event, TranscriptDelta):
        fields.update(response_id=event.response_id, delta=event.delta)
    elif isinstance(event, TranscriptDone):
        fields.update(response_id=event.response_id, item_id=event.item_id, transcript=event.transcript)
    elif isinstance(event, ResponseCreated):
        fields.update(response_id=event.response_id)
    elif isinstance(event, ResponseDone):
        fields.update(response_id=event.response_id, status=event.status)
    elif isinstance(event, OutputItemAdded | OutputItemDone | AudioDone):
        fields.update(response_id=event.response_id, item_id=event.item_id)
    elif isinstance(event, InputCommitted):
        fields.update(item_id=event.item_id)
    elif isinstance(event, UserTranscriptCompleted):
        fields.update(item_id=event.item_id, transcript=event.transcript)
    elif isinstance(event, UserTranscriptFailed):
        fields.update(item_id=event.item_id, message=event.message)
    elif isinstance(event, Error):
        fields.update(code=event.code, message=event.message, param=event.param)
    elif event is None:
        fields["malformed"] = True
    return fields
