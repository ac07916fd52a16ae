"""Test support for the AudioActor: a CallerLine that plays audio in (virtual) time.

`PlayingLine` records every call and plays the AI audio through the simulated
caller's playout buffer, so marks come back once the audio before them has
played, and a `clear` echoes pending marks the way Twilio does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from actors.audio_actor import AudioActor
from actors.call_context import CallContext
from actors.config import CallConfig
from actors.mailbox import Mailbox
from actors.messages import CallerFrame, MarkPlayed
from actors.ports import CallerLineEvent, LineClosed
from actors.trace import Trace
from callrt.sim.playout import Playout
from tests.support.context import make_context


@attrs.define
class LineCall:
    t_ms: float
    kind: str
    detail: Any = None


class PlayingLine:
    """A CallerLine whose caller hears the audio in real time (echo_marks=False: a line that never answers)."""

    def __init__(self, ctx: CallContext, *, echo_marks: bool = True) -> None:
        self.ctx = ctx
        self.calls: list[LineCall] = []
        self.echoed: list[tuple[str, bool]] = []
        self._marks = ctx.mailboxes.audio.outbox("line")
        self._echo = echo_marks
        self.playout = Playout(self._on_mark)
        self.closed = False

    def _on_mark(self, name: str, cleared: bool) -> None:
        self.echoed.append((name, cleared))
        if self._echo:
            self._marks.send_nowait(MarkPlayed(name))

    def _log(self, kind: str, detail: Any = None) -> None:
        if self.closed:
            raise LineClosed("hung up")
        self.calls.append(LineCall(self.ctx.trace.now_ms(), kind, detail))

    async def receive(self) -> CallerLineEvent:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send_audio(self, payload: bytes, mark: str | None = None) -> None:
        self._log("media", len(payload))
        self.playout.add_audio(len(payload))
        if mark is not None:
            self._log("mark", mark)
            self.playout.add_mark(mark)

    async def clear(self) -> None:
        self._log("clear")
        self.playout.clear()

    async def hang_up(self) -> None:
        self._log("hang_up")
        self.closed = True

    def of(self, kind: str) -> list[LineCall]:
        return [call for call in self.calls if call.kind == kind]


class StallingLine(PlayingLine):
    """A line whose writes wait while `stalled` is set: a caller whose connection stopped taking data."""

    def __init__(self, ctx: CallContext, *, echo_marks: bool = True) -> None:
        super().__init__(ctx, echo_marks=echo_marks)
        self.stalled = False
        self._moving = trio.Event()

    def stall(self) -> None:
        self.stalled, self._moving = True, trio.Event()

    def resume(self) -> None:
        self.stalled = False
        self._moving.set()

    async def send_audio(self, payload: bytes, mark: str | None = None) -> None:
        await super().send_audio(payload, mark)
        if self.stalled:
            await self._moving.wait()

    async def clear(self) -> None:
        await super().clear()
        if self.stalled:
            await self._moving.wait()


@asynccontextmanager
async def running_actor(
    config: CallConfig | None = None,
    *,
    echo_marks: bool = True,
    trace: Trace | None = None,
    line_type: type[PlayingLine] = PlayingLine,
) -> AsyncIterator[tuple[CallContext, PlayingLine, AudioActor]]:
    ctx = make_context(config=config, trace=trace)
    line = line_type(ctx, echo_marks=echo_marks)
    actor = AudioActor(ctx, line)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(line.playout.run)
        nursery.start_soon(actor.run)
        yield ctx, line, actor
        nursery.cancel_scope.cancel()


async def feed(ctx: CallContext, frames: Sequence[bytes], *, first_index: int = 0, hand_over: bool = False) -> None:
    """Deliver frames at 20 ms pacing: frame k covers stream [20k, 20k+20) ms and arrives at its end.

    With the call starting at trio time 0 of the test, stream ms and call ms coincide. `hand_over`: as the
    line pump does, handed to the AudioActor while it waits for them (`Outbox.hand_over`), and what their
    handling left to write awaited; else queued in its mailbox.
    """
    outbox = ctx.mailboxes.audio_frames.outbox("line")
    call_start = trio.current_time() - ctx.trace.now_ms() / 1000.0
    for offset, payload in enumerate(frames):
        index = first_index + offset
        await trio.sleep_until(call_start + (index + 1) * 0.02)
        frame = CallerFrame(payload=payload, timestamp_ms=index * 20, received_at=trio.current_time())
        if not hand_over:
            outbox.send_nowait(frame)
        elif (owed := outbox.hand_over(frame)) is not None:
            await owed()


def drain(mailbox: Mailbox[Any]) -> list[Any]:
    messages = []
    while True:
        try:
            messages.append(mailbox.receive_nowait())
        except trio.WouldBlock:
            return messages
