"""Benchmark: CPU time of the AudioActor per inbound 20 ms frame.

Run: .venv/bin/python benchmarks/bench_audio.py [--frames N]

Pushes N caller frames (a 10-second loop of speech, pauses, a cough and line
noise, from the simulated caller's signals) through the real AudioActor: the
bounded frames mailbox, RMS, VAD, pre-roll and batching, CallerAudio /
Utterance* messages into the traced realtime mailbox (drained as the
RealtimeActor would), and the call trace written to a file. CPU is
`time.process_time()` over the whole run divided by the frame count, so it
includes the mailbox, the trace and trio's scheduling of each frame. The wall
time of the actor's own synchronous per-frame handling (`AudioStats.proc_ns`)
is printed next to it; it equals CPU time only on an idle machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import trio
import trio.testing

from actors.audio_actor import AudioActor
from actors.call_context import CallContext, CallMailboxes
from actors.config import CallConfig
from actors.db import StoreGateway
from actors.messages import CallerFrame
from actors.ports import CallerLineEvent
from actors.trace import Trace
from callrt.sim.signals import noise_frames, silence_frames, speech_frames

if TYPE_CHECKING:
    from store import Store

BATCH = 100


class NullLine:
    """A caller line that accepts everything (no AI audio is played in this benchmark)."""

    async def receive(self) -> CallerLineEvent:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send_audio(self, payload: bytes, mark: str | None = None) -> None: ...

    async def clear(self) -> None: ...

    async def hang_up(self) -> None: ...


def ten_seconds() -> list[bytes]:
    return (
        silence_frames(1000, seed=1)
        + speech_frames("I would like an appointment tomorrow", 2500)
        + silence_frames(1000, seed=2)
        + noise_frames("cough", 300, rms=1500.0, seed=3)
        + silence_frames(2000, seed=4)
        + speech_frames("at six in the evening", 1500)
        + silence_frames(1700, seed=5)
    )


async def run(n: int, trace_path: Path) -> dict[str, float]:
    config = CallConfig()
    trace = Trace("bench", trace_path)
    ctx = CallContext(
        call_sid="bench",
        business_id=1,
        caller_phone=None,
        language="en",
        config=config,
        trace=trace,
        gateway=StoreGateway(),
        store=cast("Store", None),
        now=lambda: dt.datetime.now(dt.UTC),
        mailboxes=CallMailboxes.create(trace, config),
    )
    actor = AudioActor(ctx, NullLine())
    frames = itertools.cycle(ten_seconds())
    outbox = ctx.mailboxes.audio_frames.outbox("line")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await trio.testing.wait_all_tasks_blocked()  # the actor waits for its first frame
        cpu_start = time.process_time()
        for first in range(0, n, BATCH):
            for index in range(first, min(n, first + BATCH)):
                outbox.send_nowait(CallerFrame(next(frames), index * 20, trio.current_time()))
            # The actor takes the whole batch before it blocks again (the realtime mailbox is unbounded).
            await trio.testing.wait_all_tasks_blocked()
            assert not ctx.mailboxes.audio_frames.depth, "the actor stopped before taking its batch"
            while True:  # the RealtimeActor's side: take what the actor sent
                try:
                    ctx.mailboxes.realtime.receive_nowait()
                except trio.WouldBlock:
                    break
        cpu = time.process_time() - cpu_start
        nursery.cancel_scope.cancel()
    trace.close()
    assert actor.stats.frames == n, "frames were dropped: the benchmark must measure every frame"
    return {
        "frames": n,
        "cpu_us_per_frame": cpu / n * 1e6,
        "actor_us_per_frame": actor.stats.proc_ns / n / 1000.0,
        "utterances": actor.stats.utterances,
        "noise_segments": actor.stats.noise_segments,
        "calls_per_core_at_50fps": 1.0 / (cpu / n * 50),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="inbound frames to push (50 per second of call)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = trio.run(run, args.frames, Path(tmp) / "audio.jsonl")
    print(f"frames: {results['frames']:.0f} ({results['frames'] / 50 / 60:.1f} minutes of caller audio)")
    print(f"utterances: {results['utterances']:.0f}, noise segments: {results['noise_segments']:.0f}")
    print(f"CPU per inbound frame, all included: {results['cpu_us_per_frame']:.1f} µs")
    print(f"  wall time in the actor's synchronous frame handling: {results['actor_us_per_frame']:.1f} µs")
    print(f"inbound audio of ~{results['calls_per_core_at_50fps']:.0f} calls would saturate one core")


if __name__ == "__main__":
    main()
