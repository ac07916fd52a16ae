"""Benchmark: messages per second and µs per message through a traced mailbox.

Run: .venv/bin/python benchmarks/bench_mailbox.py [--messages N]

Measures send+receive of one message through (a) a control mailbox, which
writes a trace event with the message's fields for each send and receive, and
(b) an audio mailbox (bounded, drop-oldest, aggregated tracing), with 160-byte
mu-law frames. The trace is kept in memory and written to a temporary file, as
in a real call.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from actors.mailbox import Mailbox
from actors.messages import CallerFrame, UtteranceEnded
from actors.trace import Trace


async def _through(box: Mailbox[Any], make: Any, n: int) -> float:
    outbox = box.outbox("bench")
    started = time.perf_counter()
    for i in range(n):
        outbox.send_nowait(make(i))
        box.receive_nowait()
        if i % 64 == 0:
            await trio.lowlevel.checkpoint()
    return time.perf_counter() - started


async def run(n: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trace = Trace("bench", Path(tmp) / "control.jsonl")
        control: Mailbox[UtteranceEnded] = Mailbox("realtime", "realtime", trace)
        elapsed = await _through(
            control, lambda i: UtteranceEnded(at_ms=float(i), duration_ms=900.0, rms=1200.0, silence_ms=600.0), n
        )
        trace.close()
        results["control_us_per_msg"] = elapsed / n * 1e6
        results["control_msgs_per_s"] = n / elapsed
        trace = Trace("bench", Path(tmp) / "audio.jsonl")
        audio: Mailbox[CallerFrame] = Mailbox("audio.frames", "audio", trace, capacity=250)
        frame = bytes(160)
        elapsed = await _through(audio, lambda i: CallerFrame(payload=frame, timestamp_ms=i * 20), n)
        trace.close()
        results["audio_us_per_msg"] = elapsed / n * 1e6
        results["audio_msgs_per_s"] = n / elapsed
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    results = trio.run(run, args.messages)
    for key, value in results.items():
        print(f"{key:22s} {value:12.2f}")


if __name__ == "__main__":
    main()
