"""Test helpers for the simulated Realtime peer: SDK-model validation of server events, a small client driver."""

from __future__ import annotations

import base64
import math
import typing
from typing import Any

import pydantic
import trio
from openai.types.beta.realtime import realtime_server_event as beta_server
from openai.types.realtime import realtime_server_event as ga_server

from actors.ports import ModelClosed
from callrt.sim.realtime_peer import InMemoryModelConnector, MemoryModelConnection

# The service's session objects carry these three keys, which the SDK's session-request models do not declare
# (RealtimeSessionCreateResponse does): allowed there, nowhere else.
_SESSION_EXTRAS = {"id", "object", "expires_at"}


def _by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    members = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in members}


UNTIL_S = 30.0
"""How long `until` waits for an event: a peer that never sends it fails the test instead of hanging it."""
SERVER_EVENTS = {"beta": _by_type(beta_server.RealtimeServerEvent), "ga": _by_type(ga_server.RealtimeServerEvent)}


def _unknown_keys(value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            if not (path.endswith("session") and key in _SESSION_EXTRAS):
                found.append(f"{path}.{key}")
        for name in type(value).model_fields:
            found += _unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unknown_keys(item, f"{path}[{index}]")
    return found


def validate_server_event(event: dict[str, Any], dialect: str) -> pydantic.BaseModel:
    """`event` parsed by the official SDK model of its type in `dialect`; fails on unknown types and keys."""
    models = SERVER_EVENTS[dialect]
    assert event["type"] in models, f"{event['type']} is not a {dialect} server event"
    parsed = models[event["type"]].model_validate(event)
    unknown = _unknown_keys(parsed, "")
    assert not unknown, f"{event['type']}: keys the SDK model does not know: {unknown}"
    return parsed


def session_config(dialect: str, *, transcription: bool = True) -> dict[str, Any]:
    """A session.update the way the RealtimeActor configures a phone call (mu-law both ways, no VAD)."""
    transcribe = {"model": "whisper-1"} if transcription else None
    if dialect == "beta":
        return {
            "modalities": ["audio", "text"],
            "voice": "shimmer",
            "input_audio_format": "g711_ulaw",
            "output_audio_format": "g711_ulaw",
            "input_audio_transcription": transcribe,
            "turn_detection": None,
            "temperature": 0.6,
        }
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "transcription": transcribe, "turn_detection": None},
            "output": {"format": {"type": "audio/pcmu"}, "voice": "shimmer"},
        },
    }


def ulaw_append(ms: int) -> dict[str, Any]:
    """`input_audio_buffer.append` with `ms` of 8 kHz mu-law (silence: the peer only counts it)."""
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\xff" * (8 * ms)).decode()}


class PeerClient:
    """Drives one in-memory peer connection and keeps every server event it received, validated."""

    def __init__(self, connection: MemoryModelConnection, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.events: list[dict[str, Any]] = []
        self.received_at: list[float] = []
        self.closed = False

    @classmethod
    async def open(cls, connector: InMemoryModelConnector, *, configure: bool = True, **config: Any) -> PeerClient:
        client = cls(await connector.connect(), connector.dialect)
        await client.until("session.created")
        if configure:
            await client.send({"type": "session.update", "session": session_config(connector.dialect, **config)})
            await client.until("session.updated")
        return client

    async def send(self, event: dict[str, Any]) -> None:
        await self.connection.send(event)

    async def receive(self) -> dict[str, Any]:
        event = await self.connection.receive()
        validate_server_event(event, self.dialect)
        self.events.append(event)
        self.received_at.append(trio.current_time())
        return event

    async def until(self, event_type: str) -> dict[str, Any]:
        return await self.until_any(event_type)

    async def until_any(self, *event_types: str) -> dict[str, Any]:
        """Read up to (and including) the next event of one of `event_types`, within `UNTIL_S`."""
        with trio.fail_after(UNTIL_S):
            while True:
                event = await self.receive()
                if event["type"] in event_types:
                    return event

    async def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Everything received within `seconds` (virtual) or until the peer closes."""
        start = len(self.events)
        with trio.move_on_after(seconds if seconds != math.inf else 3600):
            try:
                while True:
                    await self.receive()
            except ModelClosed:
                self.closed = True
        return self.events[start:]

    def types(self, since: int = 0) -> list[str]:
        return [event["type"] for event in self.events[since:]]
