"""When the bytes of a read reached this machine: the kernel's receive time of a plain socket's data.

A caller frame's lag is counted from its arrival, and the honest arrival is the kernel's, not the moment
a task got round to reading it: under load, data waits in the socket until the loop reaches its reader,
and that wait is the first part of what a caller's audio is late by. On Linux a socket with
`SO_TIMESTAMPNS` carries, with every read (`recvmsg`), the time its newest segment was received; it
is turned into trio's clock once, at the read. Several messages read at once share the time of the
newest, so a backlog's older messages are counted a little early, never late. Linux switches its
receive stamps on for the whole machine, asynchronously, when a first socket asks: until then (the
first moments after a server starts) a segment is stamped when it is read.

`recvmsg` needs the standard library's socket object, which trio keeps under its own socket's `_sock`
and does not expose. That object is read here rather than a duplicate descriptor: a duplicate would
hold the connection open after the stream closed its own. Where there is no such object, on another
platform, or on a TLS or in-memory stream, there is no reader, and the time of the read stands in for
the arrival.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

import trio

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux's value (asm-generic: x86 and arm alike), for the Pythons whose `socket` module does not name it."""
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


class ArrivalReader:
    """Reads a plain socket, waiting for readability first (one scheduler trip per read), and keeps the
    kernel's receive time of what it read last as `arrived_at`, on trio's clock."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._now = trio.lowlevel.current_clock().current_time
        self.arrived_at = self._now()

    @classmethod
    def open(cls, stream: trio.abc.Stream) -> ArrivalReader | None:
        """A reader of a plain socket stream; None where the kernel gives no receive times."""
        if not isinstance(stream, trio.SocketStream) or sys.platform != "linux":
            return None
        sock = getattr(stream.socket, "_sock", None)
        if not isinstance(sock, socket.socket):
            return None
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            return None
        return cls(sock)

    async def receive_some(self, max_bytes: int) -> bytes:
        """The next bytes (b"" at the peer's end of stream); a reset connection raises `OSError`."""
        while True:
            await trio.lowlevel.wait_readable(self._sock)
            try:
                data, ancillary, _, _ = self._sock.recvmsg(max_bytes, _ANCILLARY_BYTES)
            except BlockingIOError:  # a spurious wake-up: wait again
                continue
            read_at = self._now()
            if ancillary and len(ancillary[0][2]) == _TIMESPEC.size:  # the only message asked for: the time
                seconds, nanoseconds = _TIMESPEC.unpack(ancillary[0][2])
                # How long ago, on the wall clock the kernel stamps with, taken off trio's clock's now.
                age = time.time() - seconds - nanoseconds * 1e-9
                self.arrived_at = read_at - age if age > 0.0 else read_at
            else:
                self.arrived_at = read_at
            return data
