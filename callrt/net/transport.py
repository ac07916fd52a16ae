"""Text-message transports: the one shape every websocket-like peer is driven through.

The Twilio adapter, the simulated caller and the simulated model peer all speak
JSON text messages over a `TextTransport`: a real websocket (`callrt.net.websocket`,
or a trio-websocket connection for embedders) or an in-memory pair (scenarios run the exact same protocol code in
virtual time, without sockets).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from store.errors import CallrtError


class TransportClosed(CallrtError):
    """The other side closed, or the connection broke."""


class TextTransport(Protocol):
    async def send(self, text: str) -> None: ...

    async def send_many(self, texts: Iterable[str]) -> None:
        """The messages in order; a websocket writes them to the socket at once."""
        ...

    async def receive(self) -> str: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class KnowsArrival(Protocol):
    """A transport that knows when the last message it returned reached this machine (trio's clock)."""

    def arrival(self) -> float: ...


class SendsOneByOne:
    """`send_many` as one `send` after the other, for transports without a batched write."""

    async def send_many(self: TextTransport, texts: Iterable[str]) -> None:
        for text in texts:
            await self.send(text)


class MemoryTransport(SendsOneByOne):
    """One end of an in-memory duplex pipe of text messages."""

    def __init__(self, outgoing: trio.MemorySendChannel[str], incoming: trio.MemoryReceiveChannel[str]) -> None:
        self._out = outgoing
        self._in = incoming

    async def send(self, text: str) -> None:
        try:
            await self._out.send(text)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed("peer closed") from exc

    async def receive(self) -> str:
        try:
            return await self._in.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise TransportClosed("peer closed") from exc

    async def aclose(self) -> None:
        await self._out.aclose()
        await self._in.aclose()


def memory_transport_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends: what one sends, the other receives, in order, unbounded."""
    a_to_b_send, a_to_b_receive = trio.open_memory_channel[str](math.inf)
    b_to_a_send, b_to_a_receive = trio.open_memory_channel[str](math.inf)
    return MemoryTransport(a_to_b_send, b_to_a_receive), MemoryTransport(b_to_a_send, a_to_b_receive)


class WebSocketTransport(SendsOneByOne):
    """A trio-websocket connection as a `TextTransport`."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        try:
            await self.ws.send_message(text)
        except ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from exc

    async def receive(self) -> str:
        try:
            message = await self.ws.get_message()
        except ConnectionClosed as exc:
            raise TransportClosed(str(exc)) from exc
        return message if isinstance(message, str) else message.decode("utf-8", errors="replace")

    async def aclose(self) -> None:
        await self.ws.aclose()
