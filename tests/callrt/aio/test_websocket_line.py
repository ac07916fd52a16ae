"""The bridge between a Starlette websocket (asyncio) and the call's line (trio): every message crosses, in
order, both ways; a stalled call reads no further than its window ahead; a hang-up closes the websocket after
what was sent. The websocket is Starlette's, over the ASGI messages a server exchanges with it."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.websockets import WebSocket

from callrt.aio import TrioGuest, WebSocketCallerLine
from callrt.net.transport import TransportClosed


class AsgiPeer:
    """The server's side of one ASGI websocket: what the client sent, and what the app sent back."""

    def __init__(self) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        scope = {"type": "websocket", "path": "/media", "headers": [], "query_string": b"", "subprotocols": []}
        self.websocket = WebSocket(scope, receive=self.to_app.get, send=self.from_app.put)

    async def accepted(self) -> WebSocket:
        self.to_app.put_nowait({"type": "websocket.connect"})
        await self.websocket.accept()
        assert (await self.from_app.get())["type"] == "websocket.accept"
        return self.websocket

    def client_sends(self, *texts: str) -> None:
        for text in texts:
            self.to_app.put_nowait({"type": "websocket.receive", "text": text})

    def client_hangs_up(self) -> None:
        self.to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})


async def echo_upper(caller: WebSocketCallerLine, count: int) -> list[str]:
    """In trio: read `count` messages, sending each back upper-cased, then wait for the line to close."""
    received = []
    transport = caller.line.transport
    for _ in range(count):
        received.append(text := await transport.receive())
        await transport.send_many([text.upper()])
    try:
        received.append(await transport.receive())
    except TransportClosed:
        return received
    raise AssertionError("the line should have closed")


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.text(max_size=40), max_size=60), window=st.integers(1, 8))
def test_every_message_crosses_in_order_both_ways(texts: list[str], window: int) -> None:
    async def host() -> None:
        guest, peer = TrioGuest(), AsgiPeer()
        try:
            async with WebSocketCallerLine(await peer.accepted(), guest=guest, window=window) as caller:
                echo = asyncio.create_task(guest.run(echo_upper, caller, len(texts)))
                peer.client_sends(*texts)
                echoed = [(await peer.from_app.get())["text"] for _ in texts]
                peer.client_hangs_up()
                assert await echo == texts
                assert echoed == [text.upper() for text in texts]
        finally:
            await guest.aclose()

    asyncio.run(host())


def test_a_stalled_call_reads_no_further_than_its_window() -> None:
    async def host() -> None:
        guest, peer = TrioGuest(), AsgiPeer()
        try:
            async with WebSocketCallerLine(await peer.accepted(), guest=guest, window=4) as caller:
                peer.client_sends(*(f"m{i}" for i in range(10)))
                await guest.run(trio.sleep, 0.05)  # the call reads nothing meanwhile
                assert peer.to_app.qsize() == 6, "four taken off the socket, the rest left to TCP"
                assert await guest.run(caller.line.transport.receive) == "m0"
                await guest.run(trio.sleep, 0.05)
                assert peer.to_app.qsize() == 6, "credits go back in batches, or when the call waits"
                await guest.run(caller.line.hang_up)
        finally:
            await guest.aclose()
        sent = [peer.from_app.get_nowait() for _ in range(peer.from_app.qsize())]
        assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]

    asyncio.run(host())


def test_a_hang_up_closes_after_what_was_sent() -> None:
    async def host() -> None:
        guest, peer = TrioGuest(), AsgiPeer()

        async def speak_and_hang_up(caller: WebSocketCallerLine) -> None:
            await caller.line.transport.send_many(["a", "b"])
            await caller.line.transport.send("c")
            await caller.line.transport.aclose()

        try:
            async with WebSocketCallerLine(await peer.accepted(), guest=guest) as caller:
                await guest.run(speak_and_hang_up, caller)
        finally:
            await guest.aclose()
        sent = [peer.from_app.get_nowait() for _ in range(peer.from_app.qsize())]
        assert [m.get("text", m["type"]) for m in sent] == ["a", "b", "c", "websocket.close"]

    asyncio.run(host())
