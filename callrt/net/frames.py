"""Whole websocket frames cut from the received bytes; a plain data frame is read without the protocol.

`websockets`' sans-I/O parser reads a frame through a chain of generators (the protocol's
parser, `Frame.parse`, the stream reader's `read_exact` for each part of the header), builds a
`Frame` and an events list: per frame that is more Python than all of Twilio's JSON. Nearly
every frame on a call is the same kind: one whole text message, unfragmented, no extension
bits, masked by a client (or not by a server), within the size limit. `FrameSplitter` reads
those itself, unmasking with `websockets`' own C `apply_mask`, and hands every other frame
(control frames, fragments, reserved bits) whole to the protocol, which answers or assembles it
exactly as if it had read every byte itself. A frame the protocol refuses from its header (a
wrong mask, an unknown opcode, a size over the limit) goes to it from that header on, so it
fails the connection at the same byte it would have.

The protocol only ever receives whole frames, so it is at a frame boundary whenever the
splitter looks at the next one. Once the protocol leaves the OPEN state (a close received or
sent, a protocol error) everything goes to it unsplit: it is then closing, or discarding.

Only the protocol's documented interface is used (`receive_data`, `events_received`, `state`):
the size limit and the masking rule are given to the splitter by its owner, and the size of a
fragmented message is counted from the frames the protocol hands back. `apply_mask` is the one
undocumented name read from `websockets`; tests/callrt/net/test_websockets_contract.py guards it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, State

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

Received = str | Frame
"""A whole message read here, or a frame the protocol parsed (to be assembled by its reader)."""

_FIN_NO_RSV = 0x80
_DATA_OPCODES = (0x1, 0x2)  # text, binary
_OPCODES = (0x0, 0x1, 0x2, 0x8, 0x9, 0xA)  # continuation, text, binary, close, ping, pong

_apply_mask: Callable[[bytes | bytearray, bytes | bytearray], bytes] = apply_mask


class FrameSplitter:
    """Feeds one connection's received bytes to `out` as messages and the protocol's frames, in order.

    `peer_masks` is what RFC 6455 requires of the peer (clients mask their frames, servers do
    not); `max_message_bytes` is the `max_size` the protocol was built with."""

    def __init__(self, protocol: Protocol, *, peer_masks: bool, max_message_bytes: int | None) -> None:
        self._protocol = protocol
        self._masked = peer_masks
        self._max_message_bytes = max_message_bytes
        self._partial = bytearray()
        """The start of a frame whose end has not arrived yet (grown in place: a large frame comes in many reads)."""
        self._fragments_size: int | None = None
        """Bytes of the fragmented message being read, as the protocol counts them; None between messages."""
        self._limit = max_message_bytes
        self._fragmented = False
        """Inside a fragmented message: its frames, and any data frame, are the protocol's to judge.
        Both change only when the protocol reads a frame, so they are refreshed then, not per frame."""

    def feed(self, data: bytes | bytearray, out: deque[Received]) -> None:
        """Cuts the whole frames out of what arrived (after anything left from before)."""
        if self._partial:
            self._partial += data
            buffer: bytes | bytearray = self._partial
        else:
            buffer = data
        protocol = self._protocol
        size = len(buffer)
        offset = 0
        while size - offset >= 2:
            if protocol.state is not State.OPEN:
                self._to_protocol(buffer[offset:], out)
                offset = size
                break
            head1, head2 = buffer[offset], buffer[offset + 1]
            masked = head2 & 0x80 != 0
            if masked != self._masked or head1 & 0x0F not in _OPCODES:
                # The protocol fails the connection on these two bytes, as if it had read them itself.
                self._to_protocol(buffer[offset:], out)
                offset = size
                break
            length = head2 & 0x7F
            start = offset + 2
            if length == 126:
                start += 2
                if size < start:
                    break
                length = int.from_bytes(buffer[offset + 2 : start], "big")
            elif length == 127:
                start += 8
                if size < start:
                    break
                length = int.from_bytes(buffer[offset + 2 : start], "big")
            limit = self._limit
            if limit is not None and length > limit:
                # The protocol refuses it from its header (1009): never wait for, or hold, its payload.
                self._to_protocol(buffer[offset:], out)
                offset = size
                break
            body = start + 4 if masked else start  # the masking key sits between header and payload
            end = body + length
            if end > size:
                break
            if head1 & 0xF0 == _FIN_NO_RSV and head1 & 0x0F in _DATA_OPCODES and not self._fragmented:
                payload = _apply_mask(buffer[body:end], buffer[start:body]) if masked else buffer[body:end]
                out.append(payload.decode("utf-8", errors="replace"))
            else:
                self._to_protocol(buffer[offset:end], out)
            offset = end
        if offset == size:
            self._partial = bytearray()
        elif buffer is self._partial:
            del self._partial[:offset]
        else:
            self._partial = bytearray(buffer[offset:])

    def feed_eof(self, out: deque[Received]) -> None:
        """The peer ended the stream: the protocol gets any unfinished frame, then the end of stream."""
        if self._partial:
            self._to_protocol(self._partial, out)
            self._partial = bytearray()
        self._protocol.receive_eof()

    def _to_protocol(self, data: bytes | bytearray, out: deque[Received]) -> None:
        self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                out.append(event)
                if event.opcode is Opcode.TEXT or event.opcode is Opcode.BINARY or event.opcode is Opcode.CONT:
                    # A data frame the protocol accepted: it starts, continues or ends a message.
                    self._fragments_size = None if event.fin else (self._fragments_size or 0) + len(event.data)
        self._fragmented = self._fragments_size is not None
        self._limit = self._size_limit()

    def _size_limit(self) -> int | None:
        """The largest frame the protocol accepts now: what is left of the message size limit."""
        if self._max_message_bytes is None or self._fragments_size is None:
            return self._max_message_bytes
        return self._max_message_bytes - self._fragments_size
