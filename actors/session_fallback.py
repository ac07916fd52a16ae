"""SessionFallback: what the next `session.update` tries when the service refused the last one.

A refused session would otherwise leave the call silent (responses wait for `session.updated`). The
service answers a `session.update` it refuses with an `error` whose `event_id` is the update's: this
machine remembers the id of each update sent, recognises its refusal, and picks the next configuration
of the fallback chain (docs/realtime.md, "When the service refuses the session"):

1. a refused Realtime model (the error names `model`) -> `REPLACEMENT_REALTIME_MODEL`, sent as `model`;
2. a refused transcription model (the error names `transcription`) -> the current default, then the
   replacement transcription model;
3. an optional field the service calls unknown (`unknown_parameter` with its `param`) -> left out;
4. an error that names nothing we can change -> the next unused step of 1 and 2, in that order.

When nothing is left to try, `refused` answers None: the caller hears the handoff line. No I/O here;
the shell sends the updates (`model_conversation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .defaults import DEFAULT_TRANSCRIPTION_MODEL, REPLACEMENT_REALTIME_MODEL, REPLACEMENT_TRANSCRIPTION_MODEL

ESSENTIAL_FIELDS = frozenset(
    {
        "type",
        "instructions",
        "voice",
        "modalities",
        "output_modalities",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "audio",
        "audio.input",
        "audio.output",
        "audio.input.format",
        "audio.output.format",
        "audio.output.voice",
        "audio.input.transcription",
    }
)
"""Session fields a call cannot do without (audio only, mu-law, our voice, the caller's transcript):
never dropped, whatever the service says; refusing one of them ends the chain."""
TRANSCRIPTION_CHAIN = (DEFAULT_TRANSCRIPTION_MODEL, REPLACEMENT_TRANSCRIPTION_MODEL)
MAX_ATTEMPTS = 5
"""Session updates per connection, the first included: a service refusing everything is not chased."""


@attrs.frozen
class SessionChoice:
    """One configuration of the session: what the chain changed from the configured one."""

    transcription_model: str
    realtime_model: str | None = None
    """None: the connection's own model (the URL's); set: sent as the session's `model`."""
    dropped: frozenset[str] = frozenset()
    """Optional fields left out, as paths inside `session` (`audio.input.noise_reduction`)."""

    def apply(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """A `session.update` (built for the configured session) with this choice's changes."""
        session = _copy(update["session"])
        if self.realtime_model is not None:
            session["model"] = self.realtime_model
        for path in self.dropped:
            _drop(session, path.split("."))
        return {**update, "session": session}


@attrs.frozen
class Refusal:
    """One refused session update: what the service said, and what the chain does next."""

    code: str | None
    message: str
    param: str | None
    refused: str
    """The value or field refused, as the ERROR log names it."""
    next_step: str | None
    """`realtime_model`, `transcription_model`, `drop_field`, or None: nothing left to try."""


class SessionFallback:
    def __init__(self, transcription_model: str, realtime_model: str | None = None) -> None:
        """`realtime_model`: a business's own model, sent as the session's `model` (None: the connection's)."""
        self.configured = SessionChoice(transcription_model, realtime_model)
        self.choice = self.configured
        self.refusals: list[Refusal] = []
        self._update_id: str | None = None
        self._attempts = 0
        self._transcription_tried = {transcription_model}

    def connected(self) -> None:
        """A new connection starts with the configuration the chain last arrived at (it was accepted, or is
        the best left); only the count of attempts starts again."""
        self._update_id = None
        self._attempts = 0

    def sent(self, event_id: str | None) -> None:
        self._update_id = event_id
        self._attempts += 1

    def accepted(self) -> None:
        self._update_id = None

    def answers_update(self, event_id: str | None) -> bool:
        """Whether an `error` with this `event_id` refuses our latest session update."""
        return event_id is not None and event_id == self._update_id

    def refused(self, code: str | None, message: str, param: str | None) -> Refusal:
        """The service refused the latest update: the next choice (in `choice`), or `next_step` None."""
        self._update_id = None
        field = _field(param)
        refused, step = self._next(code, message, field)
        if self._attempts >= MAX_ATTEMPTS:
            step = None
        refusal = Refusal(code, message, param, refused, step)
        self.refusals.append(refusal)
        return refusal

    def _next(self, code: str | None, message: str, field: str) -> tuple[str, str | None]:
        text = f"{field} {message}".lower()
        if "transcription" in text:
            return f"transcription model {self.choice.transcription_model!r}", self._next_transcription()
        if field == "model" or ("model" in text and code != "unknown_parameter"):
            return f"Realtime model {self.choice.realtime_model or 'configured'!r}", self._next_realtime()
        if code == "unknown_parameter" and field:
            if field in ESSENTIAL_FIELDS or field in self.choice.dropped:
                return f"field {field!r}", None
            self.choice = attrs.evolve(self.choice, dropped=self.choice.dropped | {field})
            return f"field {field!r}", "drop_field"
        described = f"session ({code or 'no code'}{': ' + field if field else ''})"
        return described, self._next_realtime() or self._next_transcription()

    def _next_realtime(self) -> str | None:
        if self.choice.realtime_model == REPLACEMENT_REALTIME_MODEL:
            return None
        self.choice = attrs.evolve(self.choice, realtime_model=REPLACEMENT_REALTIME_MODEL)
        return "realtime_model"

    def _next_transcription(self) -> str | None:
        untried = [model for model in TRANSCRIPTION_CHAIN if model not in self._transcription_tried]
        if not untried:
            return None
        self._transcription_tried.add(untried[0])
        self.choice = attrs.evolve(self.choice, transcription_model=untried[0])
        return "transcription_model"


def _field(param: str | None) -> str:
    """The refused field as a path inside `session` (the service prefixes `session.`)."""
    if not param:
        return ""
    path = param.strip()
    return path.removeprefix("session.") if path != "session" else ""


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _drop(doc: dict[str, Any], path: list[str]) -> None:
    for key in path[:-1]:
        child = doc.get(key)
        if not isinstance(child, dict):
            return
        doc = child
    doc.pop(path[-1], None)
