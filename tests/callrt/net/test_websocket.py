"""callrt.net.websocket against another implementation (trio-websocket) and raw frames, over loopback."""

from __future__ import annotations

import base64
import contextlib
import os
import struct
import time
from collections.abc import Awaitable, Callable
from functools import partial

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, WebSocketRequest, open_websocket_url, serve_websocket

from callrt.net.transport import TransportClosed
from callrt.net.websocket import HandshakeFailed, SansIOWebSocket, accept_websocket, connect_websocket
from tests.support.waiting import NotifyingList

STEP_S = 10


async def sansio_server(
    nursery: trio.Nursery, handler: Callable[[SansIOWebSocket], Awaitable[None]], max_message_bytes: int = 65536
) -> int:
    async def connection(stream: trio.SocketStream) -> None:
        try:
            ws, _request = await accept_websocket(stream, max_message_bytes=max_message_bytes)
        except HandshakeFailed:
            return
        await handler(ws)

    listeners = await nursery.start(partial(trio.serve_tcp, connection, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked client frame with a random key, as RFC 6455 requires of clients."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", (0x80 if fin else 0) | opcode, 0x80 | len(payload)) + mask + masked


async def raw_client(port: int) -> tuple[trio.SocketStream, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    await stream.send_all(
        f"GET /media HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive_some(4096)
    return stream, head


async def test_server_side_text_both_ways_with_a_trio_websocket_client() -> None:
    async def echo(ws: SansIOWebSocket) -> None:
        try:
            while True:
                await ws.send("echo:" + await ws.receive())
        except TransportClosed:
            pass

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, echo)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/media") as client:
            for text in ("שלום", "y" * 60000, '{"event":"media"}'):  # 60 kB arrives in several reads
                await client.send_message(text)
                assert await client.get_message() == "echo:" + text
            await client.send_message(b"\xff binary, not UTF-8")
            assert await client.get_message() == "echo:\ufffd binary, not UTF-8"
        nursery.cancel_scope.cancel()


async def test_fragments_are_assembled_and_pings_answered_between_them() -> None:
    received = NotifyingList[str]()

    async def collect(ws: SansIOWebSocket) -> None:
        received.append(await ws.receive())
        received.append(await ws.receive())

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, collect)
        stream, head = await raw_client(port)
        assert head.startswith(b"HTTP/1.1 101")
        await stream.send_all(
            client_frame(0x1, "שלו".encode()[:5], fin=False)  # a fragment that splits a character
            + client_frame(0x9, b"are you there")
            + client_frame(0x0, "שלו".encode()[5:] + b" world", fin=True)
            + client_frame(0x1, b"second")
        )
        with trio.fail_after(STEP_S):
            pong = await stream.receive_some(4096)
        assert pong == b"\x8a\x0dare you there"  # unmasked server pong with the ping's payload
        with trio.fail_after(STEP_S):
            await received.changes.until(lambda: len(received) >= 2)
        assert received == ["שלו world", "second"]
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_closing_while_another_task_receives_completes_the_handshake() -> None:
    """The AI hangs up (aclose) while the line pump is blocked in receive(): both end cleanly."""
    outcome = NotifyingList[str]()

    async def hang_up(ws: SansIOWebSocket) -> None:
        async def pump() -> None:
            try:
                await ws.receive()
            except TransportClosed as exc:
                outcome.append(f"pump: {exc}")

        async with trio.open_nursery() as tasks:
            tasks.start_soon(pump)
            await trio.sleep(0.05)
            await ws.aclose(4000)
            outcome.append("closed")

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, hang_up)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/media") as client:
            with trio.fail_after(STEP_S), pytest.raises(ConnectionClosed) as closed:
                await client.get_message()
            assert closed.value.reason.code == 4000
        with trio.fail_after(STEP_S):
            await outcome.changes.until(lambda: len(outcome) >= 2)
        nursery.cancel_scope.cancel()
    assert sorted(outcome) == ["closed", "pump: websocket closed (closed with code 4000)"]


async def test_an_oversized_message_closes_with_1009_and_the_reader_is_told() -> None:
    errors: list[int | None] = []

    async def read(ws: SansIOWebSocket) -> None:
        try:
            await ws.receive()
        except TransportClosed:
            errors.append(ws.close_code)

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, read, max_message_bytes=1000)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/media") as client:
            await client.send_message("z" * 1001)
            with trio.fail_after(STEP_S), pytest.raises(ConnectionClosed) as closed:
                await client.get_message()
            assert closed.value.reason.code == 1009
        nursery.cancel_scope.cancel()
    assert errors == [1009]


async def accept_and_return(ws: SansIOWebSocket) -> None:
    """A handler that never gets called: the handshake refuses the request first."""
    await trio.lowlevel.checkpoint()


async def test_a_plain_http_request_is_refused_by_the_handshake() -> None:
    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, accept_and_return)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"GET /media HTTP/1.1\r\nHost: x\r\n\r\n")
        with trio.fail_after(STEP_S):
            response = b""
            while chunk := await stream.receive_some(4096):
                response += chunk
        assert response.startswith(b"HTTP/1.1 426")  # Upgrade Required, then the server closes
        nursery.cancel_scope.cancel()


async def test_client_side_headers_messages_and_the_peers_close() -> None:
    seen: dict[str, str] = {}

    async def handler(request: WebSocketRequest) -> None:
        seen.update({name.decode().lower(): value.decode() for name, value in request.headers})
        seen["path"] = request.path
        ws = await request.accept()
        await ws.send_message(await ws.get_message() + "!")
        await ws.aclose(1001)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=m"
        ws = await connect_websocket(url, {"Authorization": "Bearer k"}, max_message_bytes=1 << 20)
        await ws.send("hello")
        assert await ws.receive() == "hello!"
        with trio.fail_after(STEP_S), pytest.raises(TransportClosed, match="1001"):
            await ws.receive()
        with pytest.raises(TransportClosed):
            await ws.send("too late")
        nursery.cancel_scope.cancel()
    assert seen["authorization"] == "Bearer k" and seen["path"] == "/v1/realtime?model=m"


async def test_client_side_a_refused_handshake_is_handshake_failed() -> None:
    async def refuse(request: WebSocketRequest) -> None:
        await request.reject(401, body=b"no key")

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, refuse, "127.0.0.1", 0, None)
        with pytest.raises(HandshakeFailed, match="401"):
            await connect_websocket(f"ws://127.0.0.1:{server.port}/", {}, max_message_bytes=1024)
        nursery.cancel_scope.cancel()


def masked_frame(opcode: int, payload: bytes, *, fin: bool, mask: bytes) -> bytes:
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        header = struct.pack("!BB", first, 0x80 | len(payload))
    else:
        header = struct.pack("!BBH", first, 0x80 | 126, len(payload))
    return header + mask + masked


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(st.text(max_size=300), min_size=1, max_size=8),
    data=st.data(),
)
def test_any_fragmentation_and_any_chunking_deliver_the_messages_in_order(
    messages: list[str], data: st.DataObject
) -> None:
    """Messages split into frames at any byte (inside a UTF-8 character too), pings between the frames,
    the bytes written in chunks of any size: the reader gets exactly the messages, and a pong per ping."""
    wire = b""
    pings: list[bytes] = []
    for text in messages:
        payload = text.encode("utf-8")
        cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=3), label="cuts"))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        for index, piece in enumerate(pieces):
            mask = data.draw(st.binary(min_size=4, max_size=4), label="mask")
            wire += masked_frame(0x1 if index == 0 else 0x0, piece, fin=index == len(pieces) - 1, mask=mask)
            if data.draw(st.booleans(), label="ping"):
                ping = data.draw(st.binary(max_size=20), label="ping payload")
                pings.append(ping)
                wire += masked_frame(0x9, ping, fin=True, mask=mask)
    wire += masked_frame(0x8, struct.pack("!H", 1000), fin=True, mask=b"\x01\x02\x03\x04")  # the closing handshake
    chunk_sizes = data.draw(st.lists(st.integers(1, 64), min_size=1, max_size=20), label="chunks")

    async def main() -> tuple[list[str], bytes]:
        client, server = trio.testing.memory_stream_pair()
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /media HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        received: list[str] = []
        async with trio.open_nursery() as nursery:

            async def write() -> None:
                await client.send_all(request)
                offset, turn = 0, 0
                while offset < len(wire):
                    size = chunk_sizes[turn % len(chunk_sizes)]
                    await client.send_all(wire[offset : offset + size])
                    offset, turn = offset + size, turn + 1

            nursery.start_soon(write)
            ws, _request = await accept_websocket(server, max_message_bytes=1 << 16)
            for _ in messages:
                received.append(await ws.receive())
            with pytest.raises(TransportClosed, match="peer closed with code 1000"):
                await ws.receive()
        replies = b""
        while chunk := await client.receive_some(65536):  # until the server ends the stream
            replies += chunk
        return received, replies

    received, replies = trio.run(main)
    assert received == messages
    head, _, frames = replies.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    pongs = b"".join(struct.pack("!BB", 0x8A, len(ping)) + ping for ping in pings)
    assert frames == pongs + b"\x88\x02" + struct.pack("!H", 1000)  # every pong, in order, then the close echo


async def test_a_message_larger_than_the_socket_buffer_waits_for_the_reader_and_arrives_whole() -> None:
    """The kernel takes part of a write at once; the rest waits until the peer reads (send_all's path)."""
    big = b"a" * (16 << 20)
    sent = trio.Event()

    async def send_big(ws: SansIOWebSocket) -> None:
        await ws.send(big.decode())
        sent.set()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, send_big)
        stream, head = await raw_client(port)
        received = bytearray(head.partition(b"\r\n\r\n")[2])
        await trio.sleep(0.2)
        assert not sent.is_set()  # 16 MiB do not fit in loopback's socket buffers: the sender waits
        with trio.fail_after(STEP_S):
            while len(received) < 10 + len(big):
                received += await stream.receive_some(1 << 20)
            await sent.wait()
        assert received[:10] == b"\x81\x7f" + struct.pack("!Q", len(big)) and received[10:] == big
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_sending_to_a_peer_that_reset_the_connection_is_transport_closed() -> None:
    outcome = NotifyingList[str]()

    async def keep_sending(ws: SansIOWebSocket) -> None:
        try:
            with trio.fail_after(STEP_S):
                while True:
                    await ws.send("x" * 1000)
                    await trio.sleep(0.001)
        except TransportClosed as exc:
            outcome.append(str(exc))

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, keep_sending)
        stream, head = await raw_client(port)
        assert head.startswith(b"HTTP/1.1 101")
        stream.socket.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()  # an RST: the server's next writes fail with a reset or a broken pipe
        with trio.fail_after(STEP_S):
            await outcome.changes.until(lambda: bool(outcome))
        nursery.cancel_scope.cancel()
    assert outcome[0].startswith("send failed")


async def test_a_server_side_message_s_arrival_is_when_the_kernel_received_it_not_when_it_was_read() -> None:
    """The loop is held (a blocking sleep) after the client's message reached the server's socket: the
    arrival the websocket reports is at least that long before the read. A lower bound only: a busy
    machine can only make the read later. Linux switches its receive stamps on for the whole system,
    asynchronously, once a first socket asks: until then a packet is stamped when it is read, so the
    client sends again until a stamp shows the wait."""
    held_s = 0.05
    waited = NotifyingList[float]()

    async def note_waits(ws: SansIOWebSocket) -> None:
        with contextlib.suppress(TransportClosed):
            while True:
                await ws.receive()
                waited.append(trio.current_time() - ws.arrival())

    async with trio.open_nursery() as nursery:
        port = await sansio_server(nursery, note_waits)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/media") as client:
            for attempt in range(1, 41):
                await client.send_message('{"event":"media"}')
                time.sleep(held_s)  # noqa: ASYNC251 - the point: the whole loop, the server's reader included, is held
                await waited.changes.until(lambda n=attempt: len(waited) >= n)
                if waited[-1] >= held_s * 0.9:  # the kernel's stamp and trio's clock are read apart: some slack
                    break
        nursery.cancel_scope.cancel()
    assert waited[-1] >= held_s * 0.9, f"no kernel receive time in {len(waited)} messages: {waited}"
