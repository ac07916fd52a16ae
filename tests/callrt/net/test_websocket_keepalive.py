"""callrt.net.websocket's keepalive over loopback, in virtual time: a quiet connection is pinged, a peer
that stopped reading is found dead within `interval_s + timeout_s`, a live one never is."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from callrt.net.transport import TransportClosed
from callrt.net.websocket import Keepalive, PeerUnresponsive, SansIOWebSocket, connect_websocket
from tests.callrt.net.test_websocket import sansio_server

KEEPALIVE = Keepalive(interval_s=10.0, timeout_s=5.0)


async def connect(port: int, keepalive: Keepalive | None = KEEPALIVE) -> SansIOWebSocket:
    return await connect_websocket(f"ws://127.0.0.1:{port}/x", {}, max_message_bytes=65536, keepalive=keepalive)


async def test_a_peer_that_stops_reading_is_dead_after_interval_plus_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def deaf(ws: SansIOWebSocket) -> None:
        await ws.send("hello")
        await trio.sleep_forever()  # never reads: no pong ever comes back

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, deaf)
        client = await connect(port)
        assert await client.receive() == "hello"
        heard_at = trio.current_time()
        with pytest.raises(PeerUnresponsive, match="no pong within 5 s"):
            await client.receive()
        assert trio.current_time() == pytest.approx(heard_at + 15.0)
        # Every later use says why, and the socket is gone.
        with pytest.raises(PeerUnresponsive):
            await client.send("anyone?")
        with pytest.raises(PeerUnresponsive):
            await client.receive()
        await client.aclose()
        nursery.cancel_scope.cancel()


async def test_a_quiet_peer_that_answers_pings_stays_connected(autojump_clock: trio.testing.MockClock) -> None:
    async def quiet(ws: SansIOWebSocket) -> None:
        # Reads (so the protocol answers every ping) and says one thing after ten minutes.
        async with trio.open_nursery() as tasks:
            tasks.start_soon(ws.receive)
            await trio.sleep(600)
            await ws.send("still here")

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, quiet)
        client = await connect(port)
        assert await client.receive() == "still here"
        assert trio.current_time() >= 600
        await client.send("bye")
        await client.aclose()
        nursery.cancel_scope.cancel()


async def test_traffic_postpones_the_ping(autojump_clock: trio.testing.MockClock) -> None:
    """A peer that talks every 8 s is never pinged, so its deafness is noticed only once it falls quiet."""

    async def chatty_then_silent(ws: SansIOWebSocket) -> None:
        for n in range(5):
            await trio.sleep(8)
            await ws.send(f"tick {n}")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, chatty_then_silent)
        client = await connect(port)
        start = trio.current_time()
        for n in range(5):
            assert await client.receive() == f"tick {n}"
        with pytest.raises(PeerUnresponsive):
            await client.receive()
        assert trio.current_time() - start == pytest.approx(40.0 + 15.0)
        nursery.cancel_scope.cancel()


async def test_without_keepalive_a_deaf_peer_is_waited_for(autojump_clock: trio.testing.MockClock) -> None:
    async def deaf(ws: SansIOWebSocket) -> None:
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, deaf)
        client = await connect(port, keepalive=None)
        with trio.move_on_after(3600) as waited:
            await client.receive()
        assert waited.cancelled_caught
        nursery.cancel_scope.cancel()


async def test_a_peer_closing_meanwhile_is_an_ordinary_close(autojump_clock: trio.testing.MockClock) -> None:
    async def leaves(ws: SansIOWebSocket) -> None:
        await trio.sleep(12)  # after the ping went out, before its pong is overdue
        await ws.aclose(4000)

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, leaves)
        client = await connect(port)
        with pytest.raises(TransportClosed) as closed:
            await client.receive()
        assert not isinstance(closed.value, PeerUnresponsive)
        assert "4000" in str(closed.value)
        nursery.cancel_scope.cancel()
