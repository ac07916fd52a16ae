"""A trio socket stream's descriptor read and written directly: one scheduler trip per read, none per write.

`SocketStream.receive_some` reads first and waits after a failed read, so a message that has not
arrived yet costs a failed read, an exception, the wait, the read and a second trip through trio's
scheduler. `SocketStream.send_all` makes a trip through the scheduler for every write, even when the
kernel takes all of it at once, which it nearly always does. On a plain socket (POSIX: `os.read`
and `os.write` on a socket) reads here wait first, then read; writes go to the kernel first and
leave to `send_all` only what it could not take yet. A write the kernel takes whole therefore does
not yield: a task that only writes checkpoints at its next read. Other streams (TLS, in-memory
pairs) use their own methods.

Used by the media websocket (`callrt.net.websocket`) and the load generator's client
(`callrt.loadtest.wsclient`); `benchmarks/bench_ws_stack.py` and `benchmarks/bench_ws_send.py` measure both.
"""

from __future__ import annotations

import os
import sys

import trio

RECEIVE_BYTES = 65536


def descriptor(stream: trio.abc.Stream) -> int:
    """The socket's descriptor when `stream` is a plain socket stream this module can use; -1 otherwise."""
    if isinstance(stream, trio.SocketStream) and sys.platform != "win32":
        return stream.socket.fileno()
    return -1


async def receive_some(stream: trio.abc.Stream, fd: int) -> bytes | bytearray:
    """The next bytes from the peer (b"" at its end of stream); `fd` from `descriptor(stream)`. A closed
    stream raises `trio.ClosedResourceError`; a reset connection `OSError` (plain sockets) or
    `trio.BrokenResourceError`."""
    if fd < 0:
        return await stream.receive_some(RECEIVE_BYTES)
    while True:
        await trio.lowlevel.wait_readable(fd)
        try:
            return os.read(fd, RECEIVE_BYTES)
        except BlockingIOError:  # a spurious wake-up: wait again
            continue


async def send_all(stream: trio.abc.Stream, fd: int, data: bytes) -> None:
    """All of `data`, whatever the kernel takes at once first (see the module's docstring). A broken
    connection raises `OSError` (plain sockets) or `trio.BrokenResourceError`."""
    sent = 0
    if fd >= 0:
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            sent = 0
    if sent < len(data):
        await stream.send_all(memoryview(data)[sent:])
