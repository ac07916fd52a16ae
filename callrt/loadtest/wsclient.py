"""A minimal websocket client for the load generator: text messages over a trio socket.

The generator sends one small message per call every 20 ms, hundreds of calls in one
process on one core; through trio-websocket each send costs a wsproto frame build, an
XOR mask in Python and a lock, which made the generator, not the server, the limit.
This client frames messages itself (RFC 6455): the opening handshake, masked client
frames with an all-zero masking key (legal on the wire, and the server still unmasks
every frame: its cost is unchanged), unmasked server frames parsed from a buffer,
pings answered and the closing handshake. The socket is read and written through
`callrt.net.socket_io`, as the server's, so a frame sent costs no trip through the scheduler.
It is a load generator's client, not a general one: no extensions, no TLS, text and close
frames only.
"""

from __future__ import annotations

import base64
import contextlib
import os
import struct
from urllib.parse import urlsplit

import trio

from actors.locks import QuickLock
from callrt.net import socket_io
from callrt.net.transport import TransportClosed

_ZERO_MASK = b"\x00\x00\x00\x00"
MAX_MESSAGE = 1 << 22


def frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame of `opcode` with `payload`, masked with the zero key."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return header + _ZERO_MASK + payload


class RawWebSocket:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._fd = socket_io.descriptor(stream)
        self._buffer = bytearray()
        self._parts: list[bytes] = []
        self.closed = False
        self._lock = QuickLock()

    @classmethod
    async def connect(cls, url: str, timeout_s: float = 10.0) -> RawWebSocket:
        parts = urlsplit(url)
        if parts.scheme != "ws" or parts.hostname is None:
            raise ValueError(f"only ws:// URLs: {url}")
        with trio.fail_after(timeout_s):
            stream = await trio.open_tcp_stream(parts.hostname, parts.port or 80)
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            request = (
                f"GET {path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await stream.send_all(request.encode("ascii"))
            ws = cls(stream)
            head = await ws._read_until(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            await stream.aclose()
            raise ConnectionError(f"websocket handshake refused: {status.decode('latin-1')}")
        return ws

    async def _read_until(self, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            await self._fill()
        head = bytes(self._buffer[:end])
        del self._buffer[: end + len(marker)]
        return head

    async def _fill(self) -> None:
        if self.stream.socket.fileno() < 0:  # closed: its descriptor's number may belong to another socket
            self.closed = True
            raise TransportClosed("connection closed")
        try:
            data = await socket_io.receive_some(self.stream, self._fd)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.closed = True
            raise TransportClosed(str(exc)) from exc
        if not data:
            self.closed = True
            raise TransportClosed("connection closed")
        self._buffer += data

    async def _send(self, data: bytes) -> None:
        if self.closed:
            raise TransportClosed("closed")
        async with self._lock:  # a frame is never interleaved with another task's frame
            try:
                await socket_io.send_all(self.stream, self._fd, data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self.closed = True
                raise TransportClosed(str(exc)) from exc

    async def send(self, text: str) -> None:
        await self._send(frame(0x1, text.encode("utf-8")))

    async def receive(self) -> str:
        """The next text message; pings are answered; a close (or EOF) raises `TransportClosed`."""
        while True:
            opcode, fin, payload = await self._next_frame()
            if opcode == 0x8:
                if not self.closed:
                    with trio.move_on_after(1.0), contextlib.suppress(TransportClosed):
                        await self._send(frame(0x8, payload[:2]))
                    self.closed = True
                raise TransportClosed(f"closed by the server ({int.from_bytes(payload[:2], 'big') or 1005})")
            if opcode == 0x9:
                await self._send(frame(0xA, payload))
                continue
            if opcode in (0x1, 0x2, 0x0):
                self._parts.append(payload)
                if fin:
                    message = b"".join(self._parts)
                    self._parts.clear()
                    return message.decode("utf-8", errors="replace")

    async def _next_frame(self) -> tuple[int, bool, bytes]:
        while len(self._buffer) < 2:
            await self._fill()
        first, second = self._buffer[0], self._buffer[1]
        size, offset = second & 0x7F, 2
        if size == 126:
            while len(self._buffer) < 4:
                await self._fill()
            size, offset = struct.unpack_from("!H", self._buffer, 2)[0], 4
        elif size == 127:
            while len(self._buffer) < 10:
                await self._fill()
            size, offset = struct.unpack_from("!Q", self._buffer, 2)[0], 10
        if size > MAX_MESSAGE:
            raise TransportClosed(f"server frame of {size} bytes")
        if second & 0x80:
            raise TransportClosed("masked frame from the server")
        while len(self._buffer) < offset + size:
            await self._fill()
        payload = bytes(self._buffer[offset : offset + size])
        del self._buffer[: offset + size]
        return first & 0x0F, bool(first & 0x80), payload

    async def aclose(self) -> None:
        """The closing handshake (1000), waiting briefly for the server's close, then the socket."""
        if not self.closed:
            with trio.move_on_after(2.0):
                try:
                    await self._send(frame(0x8, struct.pack("!H", 1000)))
                    while True:
                        await self.receive()
                except TransportClosed:
                    pass
            self.closed = True
        await self.stream.aclose()
