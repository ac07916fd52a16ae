"""The two spellings of the Realtime protocol the simulated peer speaks, and how it judges client events.

beta (`OpenAI-Beta: realtime=v1`, gpt-4o-realtime-preview): flat session fields
(`input_audio_format: "g711_ulaw"`, `input_audio_transcription`, `modalities`,
`temperature` in [0.6, 1.2]), `response.audio.delta`, `conversation.item.created`.
GA (gpt-realtime): `session.type = "realtime"`, nested `audio.input/output`
with format objects (`{"type": "audio/pcmu"}`), `output_modalities`, no
`temperature`, `response.output_audio.delta`, `conversation.item.added` +
`conversation.item.done`.

Client events are checked against the official SDK's pydantic models for the
dialect (openai.types.beta.realtime / openai.types.realtime), and rejected the
way the service rejects them: an `error` event whose `error` carries
`type: invalid_request_error`, a `code` (unknown_parameter,
missing_required_parameter, invalid_value, invalid_type,
decimal_below_min_value ...), the offending `param` and the client's `event_id`.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Mapping
from typing import Any

import attrs
import pydantic
from openai.types.beta.realtime import realtime_client_event as beta_client
from openai.types.beta.realtime.session_update_event import Session as BetaSessionUpdate
from openai.types.realtime import realtime_client_event as ga_client
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest

from actors.defaults import DEFAULT_REALTIME_MODELS, DIALECTS
from actors.defaults import Dialect as DialectName

ULAW_FORMATS = ("g711_ulaw", "audio/pcmu")
PCM_FORMATS = ("pcm16", "audio/pcm")
# The service accepts these; the simulator only has a voice in mu-law and PCM16, and says so.
_UNSUPPORTED_FORMATS = ("g711_alaw", "audio/pcma")
SESSION_MAX_S = 30 * 60


class PeerError(Exception):
    """A client event the service would refuse; becomes one `error` server event."""

    def __init__(self, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@attrs.frozen
class Dialect:
    name: DialectName
    default_model: str
    audio_delta: str
    audio_done: str
    transcript_delta: str
    transcript_done: str
    text_delta: str
    text_done: str
    audio_content: str
    """Content type of an assistant audio part inside an item."""
    text_content: str

    @property
    def is_ga(self) -> bool:
        return self.name == "ga"

    # --- session -------------------------------------------------------------------------------

    def default_session(self, session_id: str, model: str, created_at_s: int) -> dict[str, Any]:
        """The session the service reports in `session.created` before any `session.update`."""
        meta = {"id": session_id, "object": "realtime.session", "expires_at": created_at_s + SESSION_MAX_S}
        if not self.is_ga:
            return meta | {
                "model": model,
                "modalities": ["text", "audio"],
                "instructions": "",
                "voice": "alloy",
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "input_audio_transcription": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "create_response": True,
                    "interrupt_response": True,
                },
                "tools": [],
                "tool_choice": "auto",
                "temperature": 0.8,
                "max_response_output_tokens": "inf",
                "speed": 1.0,
            }
        return meta | {
            "type": "realtime",
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
            },
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
        }

    def updated_session(self, session: Mapping[str, Any], raw_update: Any, *, voice_locked: bool) -> dict[str, Any]:
        """`session` with a `session.update`'s `session` object applied, or PeerError as the service would."""
        if not isinstance(raw_update, Mapping):
            raise PeerError("invalid_type", "Invalid type for 'session': expected an object.", "session")
        if self.is_ga:
            if "type" not in raw_update:
                raise PeerError(
                    "missing_required_parameter", "Missing required parameter: 'session.type'.", "session.type"
                )
            if raw_update["type"] != "realtime":
                raise PeerError(
                    "invalid_value",
                    f"Invalid value: '{raw_update['type']}'. This session only supports 'realtime'.",
                    "session.type",
                )
            model: type[pydantic.BaseModel] = RealtimeSessionCreateRequest
        else:
            model = BetaSessionUpdate
        parsed = validate_strict(model, raw_update, "session")
        update = parsed.model_dump(mode="json", exclude_unset=True)
        merged = _deep_merge(session, update)
        self._check_ranges(update)
        if voice_locked and self.voice(merged) != self.voice(session):
            raise PeerError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.voice" if not self.is_ga else "session.audio.output.voice",
            )
        for fmt, param in ((self.input_format(merged), "input"), (self.output_format(merged), "output")):
            if fmt in _UNSUPPORTED_FORMATS:
                raise PeerError("invalid_value", f"The simulated peer has no {fmt} codec; use mu-law or PCM16.", param)
        return merged

    def _check_ranges(self, update: Mapping[str, Any]) -> None:
        if self.is_ga:
            speed = update.get("audio", {}).get("output", {}).get("speed") if update.get("audio") else None
            _check_decimal("session.audio.output.speed", speed, 0.25, 1.5)
            return
        _check_decimal("session.temperature", update.get("temperature"), 0.6, 1.2)
        _check_decimal("session.speed", update.get("speed"), 0.25, 1.5)

    def input_format(self, session: Mapping[str, Any]) -> str:
        if not self.is_ga:
            return str(session.get("input_audio_format") or "pcm16")
        return str(_dig(session, "audio", "input", "format", "type") or "audio/pcm")

    def output_format(self, session: Mapping[str, Any]) -> str:
        if not self.is_ga:
            return str(session.get("output_audio_format") or "pcm16")
        return str(_dig(session, "audio", "output", "format", "type") or "audio/pcm")

    def turn_detection(self, session: Mapping[str, Any]) -> Any:
        return _dig(session, "audio", "input", "turn_detection") if self.is_ga else session.get("turn_detection")

    def voice(self, session: Mapping[str, Any]) -> Any:
        return _dig(session, "audio", "output", "voice") if self.is_ga else session.get("voice")

    def transcription_model(self, session: Mapping[str, Any]) -> str | None:
        """The input transcription model, or None when transcription is off (then none is sent)."""
        config = (
            _dig(session, "audio", "input", "transcription") if self.is_ga else session.get("input_audio_transcription")
        )
        return str(config.get("model") or "whisper-1") if isinstance(config, Mapping) else None

    def modalities(self, session: Mapping[str, Any], response: Mapping[str, Any]) -> list[str]:
        key = "output_modalities" if self.is_ga else "modalities"
        chosen = response.get(key) or session.get(key) or ["audio"]
        return [str(m) for m in chosen]

    def response_object(
        self, response_id: str, session: Mapping[str, Any], status: str, output: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A `realtime.response` as `response.created` / `response.done` carry it."""
        base: dict[str, Any] = {
            "object": "realtime.response",
            "id": response_id,
            "status": status,
            "status_details": None,
            "output": output,
            "conversation_id": "conv_" + response_id.removeprefix("resp_"),
            "max_output_tokens": "inf",
            "metadata": None,
            "usage": None,
        }
        if self.is_ga:
            return base | {
                "output_modalities": self.modalities(session, {}),
                "audio": {"output": {"format": {"type": self.output_format(session)}, "voice": self.voice(session)}},
            }
        return base | {
            "modalities": self.modalities(session, {}),
            "output_audio_format": self.output_format(session),
            "voice": self.voice(session),
            "temperature": session.get("temperature", 0.8),
        }

    # --- client events -------------------------------------------------------------------------

    def client_event_model(self, event_type: str) -> type[pydantic.BaseModel]:
        models = _GA_CLIENT_EVENTS if self.is_ga else _BETA_CLIENT_EVENTS
        if event_type not in models:
            supported = ", ".join(f"'{name}'" for name in sorted(models))
            raise PeerError(
                "invalid_value", f"Invalid value: '{event_type}'. Supported values are: {supported}.", "type"
            )
        return models[event_type]


BETA = Dialect(
    name="beta",
    default_model=DEFAULT_REALTIME_MODELS["beta"],
    audio_delta="response.audio.delta",
    audio_done="response.audio.done",
    transcript_delta="response.audio_transcript.delta",
    transcript_done="response.audio_transcript.done",
    text_delta="response.text.delta",
    text_done="response.text.done",
    audio_content="audio",
    text_content="text",
)
GA = Dialect(
    name="ga",
    default_model=DEFAULT_REALTIME_MODELS["ga"],
    audio_delta="response.output_audio.delta",
    audio_done="response.output_audio.done",
    transcript_delta="response.output_audio_transcript.delta",
    transcript_done="response.output_audio_transcript.done",
    text_delta="response.output_text.delta",
    text_done="response.output_text.done",
    audio_content="output_audio",
    text_content="output_text",
)
SPELLINGS: dict[str, Dialect] = {"beta": BETA, "ga": GA}


def dialect(name: str) -> Dialect:
    if name not in SPELLINGS:
        raise ValueError(f"dialect must be one of {DIALECTS}, not {name!r}")
    return SPELLINGS[name]


def validate_strict(model: type[pydantic.BaseModel], data: Any, prefix: str) -> pydantic.BaseModel:
    """`data` parsed as `model`; missing, ill-typed or unknown fields raise PeerError like the service.

    The SDK's models accept unknown keys (they are forward compatible); the service does not,
    so unknown keys are looked for explicitly, at any depth.
    """
    try:
        parsed = model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _peer_error(exc, prefix) from exc
    unknown = _first_unknown(parsed, prefix)
    if unknown:
        raise PeerError("unknown_parameter", f"Unknown parameter: '{unknown}'.", unknown)
    return parsed


def _first_unknown(value: Any, path: str) -> str | None:
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            return _join(path, key)
        for name in type(value).model_fields:
            found = _first_unknown(getattr(value, name), _join(path, name))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_unknown(item, _join(path, index))
            if found:
                return found
    return None


def _peer_error(exc: pydantic.ValidationError, prefix: str) -> PeerError:
    first = exc.errors()[0]
    # Union members and tagged-union tags show up in `loc` as class names / literals: not request paths.
    parts = [part for part in first["loc"] if not (isinstance(part, str) and (part[:1].isupper() or "[" in part))]
    path = prefix
    for part in parts:
        path = _join(path, part)
    kind = first["type"]
    if kind == "missing":
        return PeerError("missing_required_parameter", f"Missing required parameter: '{path}'.", path)
    if kind in ("literal_error", "enum", "union_tag_invalid"):
        return PeerError("invalid_value", f"Invalid value: {first.get('input')!r} for '{path}'. {first['msg']}.", path)
    return PeerError("invalid_type", f"Invalid type for '{path}': {first['msg']}.", path)


def _join(path: str, part: str | int) -> str:
    """A request path as the service spells it: `session.tools[0].name`."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _check_decimal(param: str, value: Any, low: float, high: float) -> None:
    if value is None:
        return
    if value < low:
        raise PeerError(
            "decimal_below_min_value",
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {low}, but got {value} instead.",
            param,
        )
    if value > high:
        raise PeerError(
            "decimal_above_max_value",
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {high}, but got {value} instead.",
            param,
        )


def _deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and "type" not in value:
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _dig(doc: Mapping[str, Any], *keys: str) -> Any:
    value: Any = doc
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _events_by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    members = typing.get_args(typing.get_args(union)[0])
    by_type: dict[str, type[pydantic.BaseModel]] = {}
    for member in members:
        (literal,) = typing.get_args(member.model_fields["type"].annotation)
        by_type[literal] = member
    return by_type


_BETA_CLIENT_EVENTS = _events_by_type(beta_client.RealtimeClientEvent)
_GA_CLIENT_EVENTS = _events_by_type(ga_client.RealtimeClientEvent)
