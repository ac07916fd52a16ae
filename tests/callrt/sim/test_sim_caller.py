"""The simulated caller against an in-test peer that speaks Twilio's server side over an in-memory pipe."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

import trio
import trio.testing

from actors.codec import FRAME_BYTES, ulaw_rms
from callrt.net.transport import MemoryTransport, TransportClosed, memory_transport_pair
from callrt.sim.caller import CallerReport, SimulatedCaller

SECOND = b"\xff" * 8000  # one second of mu-law silence from the "AI"


class Peer:
    """The server's end: records what the caller sends, with call-relative times."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.t0 = trio.current_time()
        self.received: list[tuple[float, dict[str, Any]]] = []

    def now_ms(self) -> float:
        return round((trio.current_time() - self.t0) * 1000.0, 3)

    async def collect(self) -> None:
        try:
            while True:
                message = json.loads(await self.transport.receive())
                self.received.append((self.now_ms(), message))
        except TransportClosed:
            pass

    async def media(self, payload: bytes) -> None:
        body = {"event": "media", "streamSid": "MZ", "media": {"payload": base64.b64encode(payload).decode()}}
        await self.transport.send(json.dumps(body))

    async def mark(self, name: str) -> None:
        await self.transport.send(json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": name}}))

    async def clear(self) -> None:
        await self.transport.send(json.dumps({"event": "clear", "streamSid": "MZ"}))

    def events(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.received if m["event"] == kind]


async def call(script: Sequence[Mapping[str, Any]], server: Any = None, **kwargs: Any) -> tuple[CallerReport, Peer]:
    caller_end, server_end = memory_transport_pair()
    peer = Peer(server_end)
    caller = SimulatedCaller(caller_end, script, **kwargs)
    report: list[CallerReport] = []

    async def run_caller() -> None:
        report.append(await caller.run())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.collect)
        nursery.start_soon(run_caller)
        if server is not None:
            await server(peer)
    return report[0], peer


async def test_handshake_and_paced_frames(autojump_clock: trio.testing.MockClock) -> None:
    script = [
        {"say": "hello", "ms": 1000},
        {"silence_ms": 200},
        {"noise": "hum", "ms": 100, "rms": 900},
        {"hangup": True},
    ]
    report, peer = await call(script, sim_script='{"says":["hello"]}', parameters={"token": "tok"})
    connected, start = peer.received[0][1], peer.received[1][1]
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert start["start"]["customParameters"] == {"token": "tok", "sim_script": '{"says":["hello"]}'}
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    media = peer.events("media")
    assert len(media) == 50 + 10 + 5 == report.frames_sent
    # Absolute deadlines: frame k leaves at exactly 20(k+1) ms, stamped 20k.
    assert [t for t, _ in media] == [20.0 * (k + 1) for k in range(65)]
    assert [int(m["media"]["timestamp"]) for _, m in media] == [20 * k for k in range(65)]
    assert [m["media"]["chunk"] for _, m in media[:3]] == ["1", "2", "3"]
    payloads = [base64.b64decode(m["media"]["payload"]) for _, m in media]
    assert all(len(p) == FRAME_BYTES for p in payloads)
    levels = [ulaw_rms(p) for p in payloads]
    assert min(levels[:50]) > 1000 and 2000 < sum(levels[:50]) / 50 < 3000
    assert max(levels[50:60]) < 50
    assert all(abs(level - 902) < 10 for level in levels[60:])
    assert peer.received[-1][1]["event"] == "stop" and peer.received[-1][0] == 1300.0
    assert report.ended_by == "caller" and report.steps_done == 3 and report.violations() == []


async def test_marks_echo_after_the_audio_before_them_played(autojump_clock: trio.testing.MockClock) -> None:
    async def server(peer: Peer) -> None:
        await trio.sleep(0.1)
        await peer.media(SECOND)
        await peer.mark("m1")
        await trio.sleep(1.9)
        await peer.media(SECOND[:4000])
        await peer.mark("m2")
        await peer.mark("m3")  # nothing between m2 and m3: echoed together

    report, peer = await call([{"silence_ms": 3000}, {"hangup": True}], server)
    assert [(t, m["mark"]["name"]) for t, m in peer.events("mark")] == [(1100.0, "m1"), (2500.0, "m2"), (2500.0, "m3")]
    assert [(s.start_ms, s.end_ms, s.bytes, s.cleared) for s in report.heard] == [
        (100.0, 1100.0, 8000, False),
        (2000.0, 2500.0, 4000, False),
    ]
    assert report.marks_echoed == 3 and report.marks_echoed_on_clear == 0


async def test_clear_drops_audio_and_echoes_pending_marks(autojump_clock: trio.testing.MockClock) -> None:
    async def server(peer: Peer) -> None:
        await peer.media(SECOND * 2)
        await peer.mark("a")
        await peer.media(SECOND)
        await peer.mark("b")
        await trio.sleep(0.5)
        await peer.clear()
        await trio.sleep(0.5)
        await peer.media(SECOND[:1600])
        await peer.mark("c")

    report, peer = await call([{"silence_ms": 2000}, {"hangup": True}], server)
    assert [(t, m["mark"]["name"]) for t, m in peer.events("mark")] == [(500.0, "a"), (500.0, "b"), (1200.0, "c")]
    assert report.clears_ms == [500.0]
    assert [(s.start_ms, s.end_ms, s.bytes, s.cleared) for s in report.heard] == [
        (0.0, 500.0, 4000, True),
        (1000.0, 1200.0, 1600, False),
    ]
    assert report.marks_echoed_on_clear == 2 and report.heard_ms == 700.0


async def test_waits_follow_what_is_heard(autojump_clock: trio.testing.MockClock) -> None:
    async def server(peer: Peer) -> None:
        await trio.sleep(1.01)
        await peer.media(SECOND)  # the greeting: 1.01 s .. 2.01 s, between two frame slots

    script = [{"wait": "ai_started"}, {"say": "hi", "ms": 400}, {"wait": "ai_done"}, {"hangup": True}]
    report, peer = await call(script, server)
    media = peer.events("media")
    speech = [t for t, m in media if ulaw_rms(base64.b64decode(m["media"]["payload"])) > 500]
    # ai_started is seen at the next frame slot (1.02 s); the 400 ms of speech follow it.
    assert speech[0] == 1040.0 and len(speech) == 20
    # ai_done: 400 ms of quiet after the audio ended at 2.01 s, seen at the next slot.
    assert peer.received[-1][1]["event"] == "stop" and peer.received[-1][0] == 2420.0
    assert report.wait_timeouts == []


async def test_ai_done_counts_audio_that_ended_just_before_the_wait(autojump_clock: trio.testing.MockClock) -> None:
    async def server(peer: Peer) -> None:
        await peer.media(SECOND)  # 0 .. 1.0 s

    # The wait starts at 1.2 s, inside the 400 ms of quiet that make the greeting "done".
    report, peer = await call([{"pause_ms": 1200}, {"wait": "ai_done"}, {"hangup": True}], server)
    assert peer.received[-1][0] == 1400.0 and report.wait_timeouts == []


async def test_wait_timeout_is_recorded_and_the_script_goes_on(autojump_clock: trio.testing.MockClock) -> None:
    report, peer = await call([{"wait": "ai_done", "timeout_ms": 1000}, {"say": "hello?", "ms": 200}, {"hangup": True}])
    assert [(w.step, w.wait, w.at_ms) for w in report.wait_timeouts] == [(0, "ai_done", 1000.0)]
    assert report.violations() == ["wait_timed_out"]
    assert peer.received[-1][1]["event"] == "stop" and report.steps_done == 2


async def test_server_closing_the_stream_ends_the_caller(autojump_clock: trio.testing.MockClock) -> None:
    async def server(peer: Peer) -> None:
        await trio.sleep(0.5)
        await peer.transport.aclose()

    report, _peer = await call([{"silence_ms": 10_000}, {"hangup": True}], server)
    assert report.ended_by == "server" and report.ended_at_ms == 500.0
    assert trio.current_time() < 1.0


async def test_bad_server_messages_are_counted_and_skipped(autojump_clock: trio.testing.MockClock) -> None:
    async def server(peer: Peer) -> None:
        await peer.transport.send("not json")
        await peer.transport.send(json.dumps({"event": "media", "media": {"payload": "!!not base64"}}))
        await peer.transport.send(json.dumps({"event": "dance"}))
        await peer.media(SECOND[:800])
        await peer.mark("ok")

    report, peer = await call([{"silence_ms": 500}, {"hangup": True}], server)
    assert report.bad_messages == 3
    assert [(t, m["mark"]["name"]) for t, m in peer.events("mark")] == [(100.0, "ok")]


async def test_linger_hangs_up_when_the_server_never_does(autojump_clock: trio.testing.MockClock) -> None:
    report, peer = await call([{"say": "bye", "ms": 200}], linger_ms=1000)
    assert report.ended_by == "linger" and report.ended_at_ms == 1200.0
    assert peer.received[-1][1]["event"] == "stop"
