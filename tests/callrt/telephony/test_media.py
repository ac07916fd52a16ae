"""Media Streams protocol and `TwilioCallerLine` over an in-memory transport: typed
parsing, outbound messages, and bad input counted and skipped, never raised.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import numpy as np
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.codec import FRAME_BYTES, pcm16_to_ulaw, ulaw_to_pcm16
from actors.messages import CallerDtmf, CallerFrame, MarkPlayed
from actors.ports import LineClosed
from actors.trace import Trace
from callrt.net.transport import MemoryTransport, memory_transport_pair
from callrt.telephony.media import (
    BadMessage,
    Connected,
    Dtmf,
    Mark,
    Media,
    Stop,
    StreamStart,
    TwilioCallerLine,
    clear_message,
    mark_message,
    media_message,
    parse_event,
)


def start_msg(call_sid: str = "CA123", **params: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ42",
            "start": {
                "streamSid": "MZ42",
                "accountSid": "AC1",
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def media_msg(payload: bytes, timestamp: int = 0, chunk: int = 1, track: str = "inbound") -> str:
    return json.dumps(
        {
            "event": "media",
            "streamSid": "MZ42",
            "media": {
                "track": track,
                "chunk": str(chunk),
                "timestamp": str(timestamp),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
STOP = json.dumps({"event": "stop", "streamSid": "MZ42", "stop": {"callSid": "CA123", "accountSid": "AC1"}})


# -- parsing --------------------------------------------------------------


def test_parse_every_inbound_event() -> None:
    assert parse_event(CONNECTED) == Connected("Call", "1.0.0")
    start = parse_event(start_msg(token="t0k", caller="+972501234567"))
    assert isinstance(start, StreamStart)
    assert (start.stream_sid, start.call_sid, start.account_sid) == ("MZ42", "CA123", "AC1")
    assert dict(start.custom_parameters) == {"token": "t0k", "caller": "+972501234567"}
    assert (start.media_format.encoding, start.media_format.sample_rate, start.media_format.channels) == (
        "audio/x-mulaw",
        8000,
        1,
    )
    assert parse_event(media_msg(b"\xff" * 160, timestamp=40, chunk=3)) == Media(b"\xff" * 160, 40, 3, "inbound")
    mark = {"event": "mark", "streamSid": "MZ42", "mark": {"name": "ai-7"}}
    assert parse_event(json.dumps(mark)) == Mark("ai-7")
    dtmf = {"event": "dtmf", "streamSid": "MZ42", "dtmf": {"track": "inbound_track", "digit": "5"}}
    assert parse_event(json.dumps(dtmf)) == Dtmf("5", "inbound_track")
    assert parse_event(STOP) == Stop("CA123")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "missing_field"),
        ('{"event": "hello"}', "unknown_event"),
        ('{"no_event": 1}', "unknown_event"),
        ('{"event": "media", "media": {"payload": "***"}}', "bad_base64"),
        ('{"event": "media", "media": {"payload": "abc"}}', "bad_base64"),
        ('{"event": "media", "media": {"payload": "שלום"}}', "bad_base64"),
        ('{"event": "media", "media": {"payload": "/w=="} ', "bad_json"),
        ('{"event": "media", "media": {"payload": "/w==", "timestamp": "soon"}}', "missing_field"),
        ('{"event": "media"}', "missing_field"),
        ('{"event": "mark", "mark": {}}', "missing_field"),
        ('{"event": "start", "start": {"streamSid": "MZ"}}', "missing_field"),
        ('{"event": "start", "start": {"callSid": "CA", "streamSid": "MZ", "customParameters": [1]}}', "missing_field"),
    ],
)
def test_parse_rejects_malformed(text: str, reason: str) -> None:
    with pytest.raises(BadMessage) as info:
        parse_event(text)
    assert info.value.reason == reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["media", "mark", "dtmf", "start", "stop", "payload", "callSid", "streamSid", "name"])
EVENTS = st.dictionaries(FIELDS, JSON, max_size=4).flatmap(
    lambda body: st.sampled_from(["media", "mark", "dtmf", "start", "stop", "connected", "x"]).map(
        lambda event: {"event": event, **body}
    )
)


@given(st.text(max_size=200) | EVENTS.map(json.dumps))
@settings(max_examples=400)
def test_parse_never_raises_anything_but_bad_message(text: str) -> None:
    with contextlib.suppress(BadMessage):
        parse_event(text)


@given(st.binary(min_size=0, max_size=4 * FRAME_BYTES))
@settings(max_examples=200)
def test_outbound_media_round_trips_payload(payload: bytes) -> None:
    msg = json.loads(media_message("MZ1", payload))
    assert msg["event"] == "media" and msg["streamSid"] == "MZ1"
    assert base64.b64decode(msg["media"]["payload"]) == payload
    # What Twilio would echo back on an inbound track parses to the same bytes.
    assert parse_event(media_msg(payload)) == Media(payload, 0, 1, "inbound")


@given(st.lists(st.integers(-32768, 32767), min_size=FRAME_BYTES, max_size=FRAME_BYTES))
@settings(max_examples=100)
def test_ulaw_frame_survives_the_wire_and_codec(samples: list[int]) -> None:
    ulaw = pcm16_to_ulaw(np.array(samples, dtype=np.int16))
    received = parse_event(media_msg(ulaw))
    assert isinstance(received, Media)
    # mu-law is lossy once; re-encoding the decoded signal is then exact.
    assert pcm16_to_ulaw(ulaw_to_pcm16(received.payload)) == ulaw


def test_outbound_mark_and_clear_shapes() -> None:
    assert json.loads(mark_message("MZ1", "ai-3")) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "ai-3"}}
    assert json.loads(clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


# -- the line -------------------------------------------------------------


async def feed(twilio_side: MemoryTransport, *messages: str) -> None:
    for message in messages:
        await twilio_side.send(message)


async def test_line_reads_start_then_frames_marks_dtmf_and_stop(autojump_clock: trio.testing.MockClock) -> None:
    ours, twilio_side = memory_transport_pair()
    trace = Trace("CA123")
    line = TwilioCallerLine(ours, trace)
    frame = bytes(range(160))
    await feed(twilio_side, CONNECTED, start_msg(token="x"))
    start = await line.read_start()
    assert start.call_sid == "CA123" and line.start is start
    await trio.sleep(1.5)
    await feed(
        twilio_side,
        media_msg(frame, timestamp=20, chunk=2),
        json.dumps({"event": "mark", "mark": {"name": "m1"}}),
        json.dumps({"event": "dtmf", "dtmf": {"digit": "#"}}),
        STOP,
    )
    got = await line.receive()
    assert got == CallerFrame(frame, 20, received_at=trio.current_time())
    assert got.received_at == pytest.approx(1.5)
    assert await line.receive() == MarkPlayed("m1")
    assert await line.receive() == CallerDtmf("#")
    with pytest.raises(LineClosed):
        await line.receive()
    with pytest.raises(LineClosed):
        await line.receive()
    assert line.stats.frames_in == 1 and line.stats.marks_in == 1 and line.stats.bad_total == 0
    kinds = [e["kind"] for e in trace.events if e["ev"] == "line"]
    assert kinds == ["start", "closed"]


async def test_receive_waits_for_start_and_skips_early_media() -> None:
    ours, twilio_side = memory_transport_pair()
    line = TwilioCallerLine(ours)
    frame = b"\x7f" * FRAME_BYTES
    await feed(twilio_side, CONNECTED, media_msg(frame), start_msg(), media_msg(frame, timestamp=20))
    got = await line.receive()
    assert isinstance(got, CallerFrame) and got.timestamp_ms == 20
    assert line.start is not None and line.stats.bad == {"before_start": 1}


async def test_bad_messages_are_counted_and_skipped() -> None:
    ours, twilio_side = memory_transport_pair()
    trace = Trace("CA123")
    line = TwilioCallerLine(ours, trace)
    good = b"\x01" * FRAME_BYTES
    await feed(
        twilio_side,
        start_msg(),
        "{{{ not json",
        json.dumps({"event": "hologram"}),
        '{"event": "media", "media": {"payload": "!!notbase64!!"}}',
        media_msg(b"\x00" * 161),
        media_msg(b"\x00" * 80),
        media_msg(b""),
        media_msg(good, track="outbound"),
        start_msg(),
        media_msg(good, timestamp=60),
    )
    got = await line.receive()
    assert isinstance(got, CallerFrame) and got.payload == good and got.timestamp_ms == 60
    assert line.stats.bad == {
        "bad_json": 1,
        "unknown_event": 1,
        "bad_base64": 1,
        "bad_frame_size": 3,
        "foreign_track": 1,
        "unexpected_event": 1,
    }
    assert line.stats.frames_in == 1
    assert sum(1 for e in trace.events if e.get("kind") == "bad_message") == 8


async def test_a_flood_of_bad_messages_is_counted_but_traced_only_briefly() -> None:
    ours, twilio_side = memory_transport_pair()
    trace = Trace("CA123")
    line = TwilioCallerLine(ours, trace)
    await feed(twilio_side, start_msg(), *["garbage"] * 500, STOP)
    with pytest.raises(LineClosed):
        await line.receive()
    assert line.stats.bad["bad_json"] == 500
    assert sum(1 for e in trace.events if e.get("kind") == "bad_message") == 20


async def test_transport_closed_is_line_closed_even_before_start() -> None:
    ours, twilio_side = memory_transport_pair()
    line = TwilioCallerLine(ours)
    await twilio_side.aclose()
    with pytest.raises(LineClosed):
        await line.receive()


async def test_outbound_audio_mark_clear_and_hang_up() -> None:
    ours, twilio_side = memory_transport_pair()
    line = TwilioCallerLine(ours)
    await feed(twilio_side, start_msg())
    await line.read_start()
    await line.send_audio(b"\xff" * 320, mark="ai-1")
    await line.send_audio(b"\x7f" * 160)  # no mark: the relay's way
    await line.clear()
    sent: list[dict[str, Any]] = [json.loads(await twilio_side.receive()) for _ in range(4)]
    assert [m["event"] for m in sent] == ["media", "mark", "media", "clear"]
    assert all(m["streamSid"] == "MZ42" for m in sent)
    assert base64.b64decode(sent[0]["media"]["payload"]) == b"\xff" * 320
    assert sent[1]["mark"] == {"name": "ai-1"}
    assert (line.stats.frames_out, line.stats.marks_out, line.stats.clears) == (2, 1, 1)
    await line.hang_up()
    await line.hang_up()  # idempotent
    with pytest.raises(LineClosed):
        await line.send_audio(b"\xff")
    with pytest.raises(LineClosed):
        await line.receive()


async def test_sending_to_a_vanished_peer_is_line_closed() -> None:
    ours, twilio_side = memory_transport_pair()
    line = TwilioCallerLine(ours)
    await feed(twilio_side, start_msg())
    await line.read_start()
    await twilio_side.aclose()
    with pytest.raises(LineClosed):
        await line.send_audio(b"\xff", mark="m")


def test_peer_strings_are_bounded_where_they_are_parsed() -> None:
    from callrt.telephony.media import MAX_MARK_NAME, BadMessage, Dtmf, Mark, parse_event

    assert parse_event(json.dumps({"event": "mark", "mark": {"name": "m" * MAX_MARK_NAME}})) == Mark(
        "m" * MAX_MARK_NAME
    )
    assert parse_event(json.dumps({"event": "dtmf", "dtmf": {"digit": "#"}})) == Dtmf("#")
    refused = {
        "bad_mark": {"event": "mark", "mark": {"name": "m" * (MAX_MARK_NAME + 1)}},
        "bad_dtmf": {"event": "dtmf", "dtmf": {"digit": "1\r\nINFO forged"}},
        "bad_sid": {"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA" * 100}},
    }
    for reason, message in refused.items():
        with pytest.raises(BadMessage) as caught:
            parse_event(json.dumps(message))
        assert caught.value.reason == reason


class ArrivingTransport(MemoryTransport):
    """An in-memory transport that, like a socket's websocket, knows when its last message arrived."""

    def __init__(self, transport: MemoryTransport, arrived_at: float) -> None:
        super().__init__(transport._out, transport._in)
        self.arrived_at = arrived_at

    def arrival(self) -> float:
        return self.arrived_at


async def test_a_frame_is_stamped_with_the_transport_s_arrival_where_it_knows_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ours, twilio_side = memory_transport_pair()
    line = TwilioCallerLine(ArrivingTransport(ours, arrived_at=0.25))
    await feed(twilio_side, CONNECTED, start_msg(token="x"))
    await line.read_start()
    await trio.sleep(1.5)
    await feed(twilio_side, media_msg(bytes(160), timestamp=20, chunk=1))
    frame = await line.receive()
    assert isinstance(frame, CallerFrame) and frame.received_at == 0.25
