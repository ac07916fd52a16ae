"""Test helpers for the Realtime protocol: real-shaped server events (both dialects), a wire double, and
strict validation of JSON against the openai SDK's pydantic models.

`WireConnection` is a test double of the *wire* only: the actor under test talks to it exactly as to a
websocket (JSON objects in and out); the test plays the server by pushing server-event JSON.
"""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Mapping
from typing import Any

import trio
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeClientEvent as GaClientEvent
from openai.types.realtime import RealtimeServerEvent as GaServerEvent
from pydantic import BaseModel, TypeAdapter

from actors.ports import ModelClosed
from tests.support.waiting import Changes

CLIENT_EVENTS = {"beta": TypeAdapter(BetaClientEvent), "ga": TypeAdapter(GaClientEvent)}
SERVER_EVENTS = {"beta": TypeAdapter(BetaServerEvent), "ga": TypeAdapter(GaServerEvent)}


def assert_no_extra_fields(model: Any, path: str = "") -> None:
    """Every key we sent is a field the SDK knows: catches misspelt or invented fields."""
    if isinstance(model, BaseModel):
        assert not model.model_extra, f"unknown fields at {path or 'top'}: {sorted(model.model_extra)}"
        for name in type(model).model_fields:
            assert_no_extra_fields(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for index, value in enumerate(model):
            assert_no_extra_fields(value, f"{path}[{index}]")


def validate_client_event(dialect: str, event: Mapping[str, Any]) -> BaseModel:
    model = CLIENT_EVENTS[dialect].validate_python(dict(event))
    assert_no_extra_fields(model)
    return model


def validate_server_event(dialect: str, event: Mapping[str, Any]) -> BaseModel:
    """Valid per the SDK, with no unknown top-level field (nested objects such as the session echo
    carry fields the SDK's request-shaped models do not list, e.g. the session `id`)."""
    model = SERVER_EVENTS[dialect].validate_python(dict(event))
    assert not model.model_extra, f"unknown fields: {sorted(model.model_extra)}"
    return model


AUDIO_TYPES = {
    "beta": ("response.audio.delta", "response.audio.done"),
    "ga": ("response.output_audio.delta", "response.output_audio.done"),
}
TRANSCRIPT_TYPES = {
    "beta": ("response.audio_transcript.delta", "response.audio_transcript.done"),
    "ga": ("response.output_audio_transcript.delta", "response.output_audio_transcript.done"),
}


class Server:
    """Builds server events the way the service spells them, with unique event ids."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self._ids = itertools.count(1)

    def ev(self, type_: str, **fields: Any) -> dict[str, Any]:
        return {"type": type_, "event_id": f"event_{next(self._ids)}", **fields}

    def session_created(self) -> dict[str, Any]:
        if self.dialect == "beta":
            return self.ev("session.created", session={"id": "sess_1", "object": "realtime.session"})
        return self.ev("session.created", session={"type": "realtime", "id": "sess_1", "object": "realtime.session"})

    def session_updated(self) -> dict[str, Any]:
        if self.dialect == "beta":
            return self.ev("session.updated", session={"id": "sess_1", "object": "realtime.session"})
        return self.ev("session.updated", session={"type": "realtime", "id": "sess_1", "object": "realtime.session"})

    def response_created(self, rid: str) -> dict[str, Any]:
        return self.ev("response.created", response={"id": rid, "object": "realtime.response", "status": "in_progress"})

    def item_added(self, rid: str, item: str) -> dict[str, Any]:
        return self.ev(
            "response.output_item.added",
            response_id=rid,
            output_index=0,
            item={"id": item, "object": "realtime.item", "type": "message", "role": "assistant", "content": []},
        )

    def item_done(self, rid: str, item: str) -> dict[str, Any]:
        return self.ev(
            "response.output_item.done",
            response_id=rid,
            output_index=0,
            item={"id": item, "object": "realtime.item", "type": "message", "role": "assistant", "content": []},
        )

    def audio_delta(self, rid: str, item: str, audio: bytes) -> dict[str, Any]:
        return self.ev(
            AUDIO_TYPES[self.dialect][0],
            response_id=rid,
            item_id=item,
            output_index=0,
            content_index=0,
            delta=base64.b64encode(audio).decode(),
        )

    def audio_done(self, rid: str, item: str) -> dict[str, Any]:
        return self.ev(AUDIO_TYPES[self.dialect][1], response_id=rid, item_id=item, output_index=0, content_index=0)

    def transcript_delta(self, rid: str, item: str, text: str) -> dict[str, Any]:
        return self.ev(
            TRANSCRIPT_TYPES[self.dialect][0],
            response_id=rid,
            item_id=item,
            output_index=0,
            content_index=0,
            delta=text,
        )

    def transcript_done(self, rid: str, item: str, text: str) -> dict[str, Any]:
        return self.ev(
            TRANSCRIPT_TYPES[self.dialect][1],
            response_id=rid,
            item_id=item,
            output_index=0,
            content_index=0,
            transcript=text,
        )

    def response_done(self, rid: str, status: str = "completed") -> dict[str, Any]:
        return self.ev("response.done", response={"id": rid, "object": "realtime.response", "status": status})

    def committed(self, item: str) -> dict[str, Any]:
        return self.ev("input_audio_buffer.committed", item_id=item, previous_item_id=None)

    def user_transcript(self, item: str, text: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"item_id": item, "content_index": 0, "transcript": text}
        fields["usage"] = {"type": "duration", "seconds": 1.0}
        return self.ev("conversation.item.input_audio_transcription.completed", **fields)

    def user_transcript_failed(self, item: str) -> dict[str, Any]:
        return self.ev(
            "conversation.item.input_audio_transcription.failed",
            item_id=item,
            content_index=0,
            error={"type": "transcription_error", "code": "audio_unintelligible", "message": "no speech"},
        )

    def error(self, code: str, message: str, event_id: str | None = None) -> dict[str, Any]:
        return self.ev(
            "error", error={"type": "invalid_request_error", "code": code, "message": message, "event_id": event_id}
        )

    def response(self, rid: str, item: str, text: str, audio_ms: int = 400, chunks: int = 2) -> list[dict[str, Any]]:
        """A whole response in the documented order: created, item, audio + transcript, dones."""
        per_chunk = audio_ms * 8 // chunks
        events = [self.response_created(rid), self.item_added(rid, item)]
        words = text.split(" ")
        for index in range(chunks):
            events.append(self.audio_delta(rid, item, b"\x7f" * per_chunk))
            part = " ".join(words[index * len(words) // chunks : (index + 1) * len(words) // chunks])
            events.append(self.transcript_delta(rid, item, (" " if index else "") + part))
        events += [
            self.audio_done(rid, item),
            self.transcript_done(rid, item, text),
            self.item_done(rid, item),
            self.response_done(rid),
        ]
        return events


class WireConnection:
    """One fake websocket session: records what the client sent, delivers what the test pushes."""

    def __init__(self, dialect: str, changes: Changes | None = None) -> None:
        self.dialect = dialect
        self.changes = changes or Changes()
        """Notified of every event the client sends and of the close, for tests waiting on them."""
        self.sent: list[dict[str, Any]] = []
        self._to_client_send, self._to_client = trio.open_memory_channel[dict[str, Any]](math.inf)
        self.closed = False
        self.validate = True

    async def send(self, event: Mapping[str, Any]) -> None:
        if self.closed:
            raise ModelClosed("closed")
        if self.validate:
            validate_client_event(self.dialect, event)
        self.sent.append(dict(event))
        self.changes.notify()
        await trio.lowlevel.checkpoint()

    async def receive(self) -> dict[str, Any]:
        try:
            return await self._to_client.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise ModelClosed("closed") from exc

    async def aclose(self) -> None:
        self.closed = True
        self._to_client_send.close()
        self.changes.notify()
        await trio.lowlevel.checkpoint()

    def push(self, *events: dict[str, Any]) -> None:
        for event in events:
            self._to_client_send.send_nowait(event)

    def server_close(self) -> None:
        """The server drops the connection (what the service does at its session limit)."""
        self.closed = True
        self._to_client_send.close()
        self.changes.notify()

    def types(self) -> list[str]:
        return [event["type"] for event in self.sent]

    def undelivered(self) -> int:
        """Events the test pushed that the client has not received yet."""
        return self._to_client.statistics().current_buffer_used


class WireConnector:
    """Hands out `WireConnection`s; `fail_next` refuses that many connection attempts."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.changes = Changes()
        """Notified of every connection opened and of whatever its connections notify."""
        self.connections: list[WireConnection] = []
        self.fail_next = 0
        self.attempts = 0

    async def connect(self) -> WireConnection:
        self.attempts += 1
        await trio.lowlevel.checkpoint()
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ModelClosed("refused")
        conn = WireConnection(self.dialect, self.changes)
        self.connections.append(conn)
        self.changes.notify()
        return conn

    @property
    def current(self) -> WireConnection:
        return self.connections[-1]
