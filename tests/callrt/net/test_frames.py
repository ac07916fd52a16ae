"""callrt.net.frames against `websockets`' own parser: the same bytes, chunked any way, give the same result.

The reference is a sans-I/O protocol fed every byte; the subject is an identical protocol behind a
`FrameSplitter`. After every chunk both must have delivered the same messages, owe the peer the same
bytes (pongs, close frames) and be in the same state, for well-formed and malformed streams alike.
"""

from __future__ import annotations

import struct
from collections import deque
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State

from callrt.net.frames import FrameSplitter, Received

MAX_SIZE = 300


def raw_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bytes | None = None) -> bytes:
    """Any frame, including ones RFC 6455 forbids, as raw bytes; `declared` lengths follow the payload."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    mask_bit = 0x80 if mask is not None else 0
    if len(payload) < 126:
        header = struct.pack("!BB", first, mask_bit | len(payload))
    elif len(payload) < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, len(payload))
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, len(payload))
    if mask is None:
        return header + payload
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


class Assembler:
    """Messages out of a connection's frames, as `SansIOWebSocket` assembles them."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._fragments: list[bytes] = []

    def take(self, item: Received) -> None:
        if isinstance(item, str):
            self.messages.append(item)
        elif item.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self._fragments.append(bytes(item.data))
            if item.fin:
                self.messages.append(b"".join(self._fragments).decode("utf-8", errors="replace"))
                self._fragments.clear()


def snapshot(protocol: Protocol, assembler: Assembler, sent: list[bytes]) -> tuple[object, ...]:
    sent.extend(protocol.data_to_send())
    close_rcvd = None if protocol.close_rcvd is None else (protocol.close_rcvd.code, protocol.close_rcvd.reason)
    close_sent = None if protocol.close_sent is None else protocol.close_sent.code
    failure = type(protocol.parser_exc).__name__ if protocol.parser_exc is not None else None
    return (list(assembler.messages), b"".join(sent), protocol.state, close_rcvd, close_sent, failure)


def frames(side: Side) -> st.SearchStrategy[bytes]:
    """Frames as a peer of `side` sends them (clients mask), and now and then as it must not."""
    proper_mask = st.binary(min_size=4, max_size=4) if side is Side.SERVER else st.none()
    any_mask = st.one_of(proper_mask, proper_mask, proper_mask, st.binary(min_size=4, max_size=4), st.none())
    return st.one_of(
        st.builds(  # a Twilio-like text message: the fast path
            lambda text, mask: raw_frame(0x1, text.encode(), mask=mask), st.text(max_size=120), proper_mask
        ),
        st.builds(  # a fragmented message's first frame
            lambda text, mask: raw_frame(0x1, text.encode(), fin=False, mask=mask), st.text(max_size=20), proper_mask
        ),
        st.builds(  # anything: continuations, control frames, reserved bits, unknown opcodes, oversized
            lambda opcode, payload, fin, rsv, mask: raw_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask),
            st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xB]),
            st.one_of(st.binary(max_size=40), st.binary(min_size=126, max_size=MAX_SIZE + 20)),
            st.booleans(),
            st.sampled_from([0, 0, 0, 0, 0x4]),
            any_mask,
        ),
        st.builds(  # a closing handshake, with a valid or an invalid code
            lambda code, reason, mask: raw_frame(0x8, struct.pack("!H", code) + reason.encode(), mask=mask),
            st.sampled_from([1000, 1001, 4000, 999, 1005]),
            st.text(max_size=10),
            proper_mask,
        ),
        st.just(b"\x81\xff" + struct.pack("!Q", 1 << 40)),  # a 64-bit length far over the limit
    )


sides_and_wires = st.sampled_from([Side.SERVER, Side.CLIENT]).flatmap(
    lambda side: st.tuples(st.just(side), st.lists(frames(side), min_size=1, max_size=10).map(b"".join))
)


@settings(max_examples=400, deadline=None)
@given(
    side_and_wire=sides_and_wires,
    chunk_sizes=st.lists(st.integers(1, 80), min_size=1, max_size=12),
    eof=st.booleans(),
)
def test_the_splitter_and_the_protocol_alone_agree_after_every_chunk(
    side_and_wire: tuple[Side, bytes], chunk_sizes: list[int], eof: bool
) -> None:
    side, wire = side_and_wire
    with mock.patch("websockets.frames.secrets.token_bytes", return_value=b"mask"):  # a client's frames compare
        run_both(wire, chunk_sizes, side, eof)


def run_both(wire: bytes, chunk_sizes: list[int], side: Side, eof: bool) -> None:
    reference = Protocol(side, state=State.OPEN, max_size=MAX_SIZE)
    subject = Protocol(side, state=State.OPEN, max_size=MAX_SIZE)
    splitter = FrameSplitter(subject, peer_masks=side is Side.SERVER, max_message_bytes=MAX_SIZE)
    expected, actual = Assembler(), Assembler()
    expected_sent: list[bytes] = []
    actual_sent: list[bytes] = []
    out: deque[Received] = deque()
    offset, turn = 0, 0
    while offset < len(wire):
        chunk = wire[offset : offset + chunk_sizes[turn % len(chunk_sizes)]]
        offset, turn = offset + len(chunk), turn + 1
        reference.receive_data(chunk)
        for event in reference.events_received():
            assert isinstance(event, Frame)
            expected.take(event)
        splitter.feed(chunk, out)
        while out:
            actual.take(out.popleft())
        assert snapshot(subject, actual, actual_sent) == snapshot(reference, expected, expected_sent)
    if eof:
        reference.receive_eof()
        splitter.feed_eof(out)
        assert not out
        assert snapshot(subject, actual, actual_sent) == snapshot(reference, expected, expected_sent)


def test_a_twilio_message_takes_the_fast_path_and_a_ping_the_protocols() -> None:
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=MAX_SIZE)
    splitter = FrameSplitter(protocol, peer_masks=True, max_message_bytes=MAX_SIZE)
    out: deque[Received] = deque()
    media = '{"event":"media","media":{"payload":"//8A"}}'
    splitter.feed(raw_frame(0x1, media.encode(), mask=b"\x01\x02\x03\x04") + raw_frame(0x9, b"hi", mask=b"abcd"), out)
    message, ping = out
    assert message == media
    assert isinstance(ping, Frame) and ping.opcode is Opcode.PING
    assert protocol.data_to_send() == [b"\x8a\x02hi"]  # the protocol answered the ping it was handed


def test_a_frame_split_across_reads_is_held_until_its_last_byte() -> None:
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=1 << 20)
    splitter = FrameSplitter(protocol, peer_masks=False, max_message_bytes=1 << 20)
    out: deque[Received] = deque()
    frame = raw_frame(0x1, b"x" * 70_000)  # a server's frame: unmasked, 64-bit length
    for start in range(0, len(frame) - 1, 4096):
        splitter.feed(frame[start : min(start + 4096, len(frame) - 1)], out)
    assert not out
    splitter.feed(frame[-1:], out)
    assert list(out) == ["x" * 70_000]
