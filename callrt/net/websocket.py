"""A websocket on a trio stream, driven by the `websockets` library's sans-I/O protocol.

The hot path of every call: Twilio's media stream (50 messages a second per call) and the
Realtime connection. The protocol work (handshakes, framing, unmasking in C, pings, the
closing handshake, size limits) is `websockets`'; this module only moves bytes. There is no
reader task per connection: `receive()` reads the socket itself, so a message costs one
wake-up of the task that wants it (hypercorn's websocket went through wsproto, ASGI events
and a channel hop; trio-websocket through a reader task, a channel and a Python XOR).
`benchmarks/bench_ws_stack.py` measures the difference. Frames are cut from the bytes by
`callrt.net.frames`; the socket is read and written by `callrt.net.socket_io`, so a send the
kernel takes whole does not yield to the scheduler (like `actors.locks.QuickLock`).

`SansIOWebSocket` is a `callrt.net.transport.TextTransport`: binary messages are decoded as
UTF-8 with replacement characters, so a malformed message reaches the JSON layer, which
logs and skips it.

A connection given a `Keepalive` proves its peer alive while it is quiet: the reader sends a ping
once nothing has arrived for `interval_s`, and a peer whose pong has not come `timeout_s` later is
dead (`PeerUnresponsive`; the socket is closed at once, without a closing handshake nobody would
answer). Only the wait for the socket is bounded, never a write, so a cut never splits a frame.
"""

from __future__ import annotations

import collections
import itertools
import math
import ssl
from collections.abc import Callable, Iterable, Mapping

import attrs
import trio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from actors.locks import QuickLock
from callrt.net import socket_io
from callrt.net.arrivals import ArrivalReader
from callrt.net.frames import FrameSplitter, Received
from callrt.net.transport import TransportClosed
from store.errors import CallrtError

CLOSE_TIMEOUT_S = 2.0
"""How long `aclose()` waits for the peer's half of the closing handshake."""
HANDSHAKE_TIMEOUT_S = 10.0
HEAD_END = b"\r\n\r\n"


class HandshakeFailed(CallrtError):
    """The opening handshake failed: refused by the server, or not a websocket request."""


class PeerUnresponsive(TransportClosed):
    """A keepalive ping went unanswered: the connection is dead although no socket error said so."""


@attrs.frozen
class Keepalive:
    """Pings while the connection is quiet: after `interval_s` with nothing received, a ping, whose pong
    must arrive within `timeout_s`."""

    interval_s: float
    timeout_s: float


class SansIOWebSocket:
    """Text messages over one websocket connection (client or server side)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        protocol: Protocol,
        *,
        max_message_bytes: int | None,
        received: bytes = b"",
        keepalive: Keepalive | None = None,
    ) -> None:
        """`protocol` is OPEN and was built with `max_size=max_message_bytes`."""
        self._stream = stream
        self._fd = socket_io.descriptor(stream)
        peer_masks = isinstance(protocol, ServerProtocol)
        # A server's peer sends what is timed from its arrival (a caller's frames); a client's is the model.
        self._arrivals = ArrivalReader.open(stream) if peer_masks else None
        self._protocol = protocol
        self._splitter = FrameSplitter(protocol, peer_masks=peer_masks, max_message_bytes=max_message_bytes)
        self._received: collections.deque[Received] = collections.deque()
        if received:  # what came right behind the handshake
            self._splitter.feed(received, self._received)
        self._fragments: list[bytes] = []
        # Frames of concurrent senders, and the pongs the receiver owes, go out whole and in order.
        self._send_lock = QuickLock()
        self._stream_closed = False
        self._reading = False
        self._closed = trio.Event()
        """Set once the protocol is CLOSED or the socket is closed: what a closer waits for while
        another task is the one reading."""
        self.close_code: int | None = None
        """The close code once the connection closed (1009: a message exceeded the size limit)."""
        self._keepalive = keepalive
        self._ping_payloads = (str(n).encode() for n in itertools.count(1))
        self._ping_awaited: bytes | None = None
        """The payload of the ping whose pong has not arrived yet."""
        self._alive_until = trio.current_time() + keepalive.interval_s if keepalive else math.inf
        """When the next ping is due (nothing heard since), or, with a ping awaited, when its pong is overdue."""
        self._dead: str | None = None
        """Why the keepalive gave the peer up: what every later send and receive says (`PeerUnresponsive`)."""

    async def send(self, text: str) -> None:
        await self.send_many((text,))

    async def send_many(self, texts: Iterable[str]) -> None:
        """Several messages in one write to the socket (audio and the mark after it)."""
        async with self._send_lock:
            if self._protocol.state is not State.OPEN:
                raise self._closed_error(f"send on a closed websocket ({self._describe_close()})")
            for text in texts:
                self._protocol.send_text(text.encode("utf-8"))
            await self._write_pending()

    async def receive(self) -> str:
        """The next text (or binary) message; `TransportClosed` once the connection is closing or gone."""
        while True:
            while self._received:
                item = self._received.popleft()
                if isinstance(item, str):
                    return item
                message = self._assemble(item)
                if message is not None:
                    return message
            if self._protocol.state is not State.OPEN:
                await self._finish_closing()
                raise self._closed_error(f"websocket closed ({self._describe_close()})")
            if self._keepalive is None:
                await self._read()
            elif await self._read(self._alive_until):
                if self._ping_awaited is None:
                    self._alive_until = trio.current_time() + self._keepalive.interval_s
            else:
                await self._keep_alive(self._keepalive)

    def _assemble(self, frame: Frame) -> str | None:
        """A frame the protocol read (see `callrt.net.frames`): a fragment, or a control frame it answered."""
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY or frame.opcode is Opcode.CONT:
            if frame.fin and not self._fragments:
                return bytes(frame.data).decode("utf-8", errors="replace")
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data = b"".join(self._fragments)
                self._fragments.clear()
                return data.decode("utf-8", errors="replace")
        if frame.opcode is Opcode.PONG and self._keepalive is not None and bytes(frame.data) == self._ping_awaited:
            self._ping_awaited = None
            self._alive_until = trio.current_time() + self._keepalive.interval_s
        return None  # ping, pong, close: the protocol has answered them

    async def _keep_alive(self, keepalive: Keepalive) -> None:
        """Nothing arrived in time: a ping is due, or the awaited pong is overdue and the peer is given up."""
        if self._ping_awaited is None:
            payload = next(self._ping_payloads)
            self._ping_awaited = payload
            self._alive_until = trio.current_time() + keepalive.timeout_s
            # A peer that stopped reading blocks our writes too: the pong's deadline bounds the ping's own.
            with trio.move_on_at(self._alive_until):
                async with self._send_lock:
                    if self._protocol.state is State.OPEN:
                        self._protocol.send_ping(payload)
                        await self._write_pending()
            return
        self._dead = f"no pong within {keepalive.timeout_s:g} s of a ping: the connection is dead"
        self._protocol.receive_eof()  # the protocol moves to CLOSED: sends fail from now on
        self._stream_closed = True
        self._closed.set()
        await trio.aclose_forcefully(self._stream)  # a dead peer answers no closing handshake (nor TLS close)
        raise self._closed_error("")

    def _closed_error(self, why: str) -> TransportClosed:
        return PeerUnresponsive(self._dead) if self._dead is not None else TransportClosed(why)

    async def _read(self, deadline: float = math.inf) -> bool:
        """Reads what arrived and has the protocol answer it; False when nothing arrived by `deadline`."""
        self._reading = True
        try:
            # The descriptor's number of a closed stream may belong to another socket by now.
            if self._stream_closed:
                data: bytes | bytearray | None = b""
            elif deadline == math.inf:  # no cancel scope on the hot path (the media stream)
                data = await self._receive_some()
            else:
                data = None
                with trio.move_on_at(deadline):
                    data = await self._receive_some()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            data = b""
        finally:
            self._reading = False
        if data is None:
            return False
        if data:
            self._splitter.feed(data, self._received)
        else:
            self._splitter.feed_eof(self._received)
        owed = self._protocol.data_to_send()  # a pong, a close reply, or the close a protocol error caused
        if owed:
            async with self._send_lock:
                await self._write(owed)
        if self._protocol.state is State.CLOSED:
            self._closed.set()
        return True

    async def _receive_some(self) -> bytes | bytearray:
        if self._arrivals is not None:
            return await self._arrivals.receive_some(socket_io.RECEIVE_BYTES)
        return await socket_io.receive_some(self._stream, self._fd)

    def arrival(self) -> float:
        """When the data of the last message `receive` returned reached this machine, on trio's clock: the
        kernel's receive time (`callrt.net.arrivals`); without one, now, as the message was just returned
        (no clock is read per message for a reader that never asks: the model's connection)."""
        return trio.current_time() if self._arrivals is None else self._arrivals.arrived_at

    async def _write_pending(self) -> None:
        await self._write(self._protocol.data_to_send())

    async def _write(self, chunks: list[bytes]) -> None:
        """Writes what the protocol had to send; its end-of-stream mark closes our side of the socket.

        Callers hold `_send_lock`, so writes never interleave, and mixing direct writes with
        `send_all` (`callrt.net.socket_io`) is safe."""
        data = b"".join(chunks)
        try:
            if data and not self._stream_closed:
                await socket_io.send_all(self._stream, self._fd, data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._protocol.receive_eof()  # the connection is gone: the protocol moves to CLOSED
            await self._close_stream()
            raise self._closed_error(f"send failed: {exc!r}") from exc
        if chunks and chunks[-1] == b"":
            await self._close_stream()

    async def _finish_closing(self) -> None:
        """A closing connection: wait briefly for the peer to end the TCP stream, then close it."""
        if self._protocol.close_expected() and not self._stream_closed:
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                while self._protocol.state is not State.CLOSED and not self._stream_closed:
                    if self._reading:  # another task's receive() reads the peer's close for us
                        await self._closed.wait()
                    else:
                        await self._read()
        if self._protocol.state is not State.CLOSED:
            self._protocol.receive_eof()
        await self._close_stream()

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
            self._closed.set()
            await self._stream.aclose()

    def _describe_close(self) -> str:
        """Who closed, with which code; the code is known once the protocol is CLOSED."""
        if self._protocol.state is not State.CLOSED:
            return "closing handshake under way"
        closed = self._protocol.close_exc
        if closed.sent is not None and closed.rcvd_then_sent is not True:
            self.close_code = closed.sent.code  # we closed first (a protocol error included)
            reason = f": {closed.__cause__}" if closed.__cause__ is not None else ""
            return f"closed with code {self.close_code}{reason}"
        if closed.rcvd is not None:
            self.close_code = closed.rcvd.code
            return f"peer closed with code {self.close_code}"
        self.close_code = 1006
        return "connection lost without a closing handshake"

    async def aclose(self, code: int = 1000) -> None:
        """The closing handshake from our side (idempotent), then the socket."""
        async with self._send_lock:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close(code)
                try:
                    await self._write_pending()
                except TransportClosed:
                    return
        await self._finish_closing()


Refusal = tuple[int, str]
"""An HTTP status and a body for a handshake the server turns down."""


async def accept_websocket(
    stream: trio.abc.Stream,
    *,
    max_message_bytes: int,
    refuse: Callable[[Request], Refusal | None] | None = None,
) -> tuple[SansIOWebSocket, Request]:
    """The server side of the opening handshake on a fresh connection. A request that is not a valid
    websocket upgrade gets the protocol's HTTP error response, one that `refuse` turns down gets its
    status and body; both raise `HandshakeFailed`."""
    protocol = ServerProtocol(max_size=max_message_bytes)
    request, behind = await _handshake(stream, protocol)
    if not isinstance(request, Request):
        raise HandshakeFailed("no request")
    refusal = refuse(request) if refuse is not None else None
    response = protocol.accept(request) if refusal is None else protocol.reject(*refusal)
    protocol.send_response(response)
    websocket = SansIOWebSocket(stream, protocol, max_message_bytes=max_message_bytes, received=behind)
    await websocket._write_pending()
    if protocol.state is not State.OPEN:
        await websocket._close_stream()
        raise HandshakeFailed(f"refused the upgrade ({response.status_code}): {protocol.handshake_exc}")
    return websocket, request


async def connect_websocket(
    url: str,
    headers: Mapping[str, str],
    *,
    max_message_bytes: int,
    ssl_context: ssl.SSLContext | None = None,
    timeout_s: float = HANDSHAKE_TIMEOUT_S,
    keepalive: Keepalive | None = None,
) -> SansIOWebSocket:
    """A client connection to `url` (ws:// or wss://) with `headers` in the handshake, pinging the server
    while quiet with `keepalive`. `OSError`, `trio.TooSlowError` or `HandshakeFailed` when it cannot be opened."""
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise HandshakeFailed(str(exc)) from exc
    with trio.fail_after(timeout_s):
        stream: trio.abc.Stream = await trio.open_tcp_stream(uri.host, uri.port)
        try:
            if uri.secure:
                tls = trio.SSLStream(stream, ssl_context or ssl.create_default_context(), server_hostname=uri.host)
                await tls.do_handshake()
                stream = tls
            protocol = ClientProtocol(uri, max_size=max_message_bytes)
            request = protocol.connect()
            for name, value in headers.items():
                request.headers[name] = value
            protocol.send_request(request)
            await stream.send_all(b"".join(protocol.data_to_send()))
            response, behind = await _handshake(stream, protocol)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
    if protocol.state is not State.OPEN or not isinstance(response, Response):
        await trio.aclose_forcefully(stream)
        raise HandshakeFailed(f"{url}: {protocol.handshake_exc}")
    return SansIOWebSocket(stream, protocol, max_message_bytes=max_message_bytes, received=behind, keepalive=keepalive)


async def _handshake(stream: trio.abc.Stream, protocol: ServerProtocol | ClientProtocol) -> tuple[object, bytes]:
    """Feeds the protocol the handshake's request (server) or response (client), and returns it with the
    bytes that came behind its head: the peer's first frames, which belong to the connection's
    `FrameSplitter` so that the protocol only ever sees whole frames."""
    received = bytearray()
    fed = 0
    with trio.fail_after(HANDSHAKE_TIMEOUT_S):
        while True:
            data = await stream.receive_some(socket_io.RECEIVE_BYTES)
            if data:
                received += data
                head_end = received.find(HEAD_END)
                upto = len(received) if head_end < 0 else head_end + len(HEAD_END)
                if upto > fed:
                    protocol.receive_data(bytes(received[fed:upto]))
                    fed = upto
            else:
                protocol.receive_eof()
            events: list[object] = list(protocol.events_received())
            if not events and fed < len(received):  # a head that announces a body: a refusal's, read whole
                protocol.receive_data(bytes(received[fed:]))
                fed = len(received)
                events = list(protocol.events_received())
            if events:
                return events[0], bytes(received[fed:])
            if protocol.handshake_exc is not None:
                raise HandshakeFailed(f"not a websocket handshake: {protocol.handshake_exc}")
            if not data:
                raise HandshakeFailed("the connection closed during the opening handshake")
