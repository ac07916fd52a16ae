"""The two ports through which a call touches the outside world.

Actors know nothing of Twilio JSON or websocket libraries: the telephony
adapter (callrt.telephony.media, callrt.sim.caller) implements `CallerLine`, the model
transport (callrt.model.realtime, callrt.sim.realtime_peer) implements
`ModelConnector`. Both speak plain Python values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from store.errors import CallrtError

from .messages import CallerDtmf, CallerFrame, MarkPlayed

CallerLineEvent = CallerFrame | MarkPlayed | CallerDtmf


class LineClosed(CallrtError):
    """The caller's line is gone (hang-up, `stop` event, or the socket closed)."""


class CallerLine(Protocol):
    """The caller's side of the call (Twilio Media Streams, or the simulated caller)."""

    async def receive(self) -> CallerLineEvent:
        """The next inbound event; raises `LineClosed` when the caller hung up."""
        ...

    async def send_audio(self, payload: bytes, mark: str | None = None) -> None:
        """Queue mu-law audio for the caller (Twilio `media`) and, when given, a mark right after it
        (in the same write); the mark comes back as `MarkPlayed` once the audio before it was played."""
        ...

    async def clear(self) -> None:
        """Drop every queued, unplayed chunk (Twilio `clear`)."""
        ...

    async def hang_up(self) -> None:
        """End the media stream (Twilio then runs `<Hangup/>`)."""
        ...


class ModelClosed(CallrtError):
    """The model connection dropped; the RealtimeActor reconnects."""


class ModelUnresponsive(ModelClosed):
    """The model connection went silent (a keepalive ping unanswered): dead without a socket error. The
    RealtimeActor treats it as a frozen model: it recycles the connection, then gives the model up."""


class ModelConnection(Protocol):
    """One websocket session with the Realtime API (or the simulated peer), as JSON objects."""

    async def send(self, event: Mapping[str, Any]) -> None:
        """Send one client event; raises `ModelClosed` when the connection is gone."""
        ...

    async def receive(self) -> dict[str, Any]:
        """The next server event; raises `ModelClosed` when the connection is gone (`ModelUnresponsive` when
        a connector that pings found it dead)."""
        ...

    async def aclose(self) -> None: ...


class ModelConnector(Protocol):
    """Opens model connections (again, on reconnect)."""

    @property
    def dialect(self) -> str:
        """`"beta"` or `"ga"`: which spelling of the Realtime protocol the far side speaks."""
        ...

    async def connect(self) -> ModelConnection: ...
