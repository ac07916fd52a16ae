"""The line writer: the AudioActor's decisions (AI audio, clears, the hang-up) written to the caller's line.

It owns the queue of line operations and the one write in flight. Writes go out one at a time in decision
order, so a `clear` can never overtake (or be overtaken by) audio it must drop; audio still queued when a
clear is decided is simply never sent. The frames and control loops write what they queued themselves,
right after handling a message (`handling`): an AI chunk or a clear costs no wake-up of the writer task,
and the clear no wait for its turn to run. The writer task (`run`) writes what was queued outside them
(the hang-up, a restart's clear) and what either queued while a write was in flight.

Each operation is traced just before it is written (anything traced after a clear was decided after it);
a closed line is traced once and later writes are skipped, except the hang-up, which is still reported.
"""

from __future__ import annotations

import collections

import attrs
import trio

from .mailbox import Mailbox, Outbox
from .messages import AudioControl, EndCall, SupervisorInbox
from .ports import CallerLine, LineClosed
from .trace import Trace


@attrs.frozen
class Media:
    payload: bytes
    item_id: str
    mark: str
    """The mark sent right after the audio: its echo says the audio has played."""


@attrs.frozen
class Clear:
    reason: str
    item_id: str | None
    since: float | None = None
    """Barge-in: when the line received the segment's onset frame (trio time), for the reaction time."""


@attrs.frozen
class HangUp:
    reason: str


LineOp = Media | Clear | HangUp


class LineWriter:
    def __init__(self, line: CallerLine, trace: Trace, to_supervisor: Outbox[SupervisorInbox]) -> None:
        self.line = line
        self.trace = trace
        self._to_supervisor = to_supervisor
        self.ops: collections.deque[LineOp] = collections.deque()
        self.handling = False
        """Inside the frames or control loop's handling of a message: that loop writes what it queues itself."""
        self._ops_ready = trio.Event()
        self._writing = False
        """A task is writing the queued ops: a write queued meanwhile waits for it, in order."""
        self._line_closed = False

    def queue(self, op: LineOp) -> None:
        self.ops.append(op)
        if not self.handling:
            self._ops_ready.set()

    def drop_unwritten_audio(self) -> None:
        """The caller's playback is being cleared: audio not yet written needs no clearing, it is never sent."""
        kept = [op for op in self.ops if not isinstance(op, Media)]
        self.ops.clear()
        self.ops.extend(kept)

    async def run(self) -> None:
        while True:
            await self.write_queued()
            self._ops_ready = trio.Event()
            await self._ops_ready.wait()

    async def write_queued(self, *, until_mail_in: Mailbox[AudioControl] | None = None) -> None:
        """Writes the queued ops in order, unless a write is already in flight: that task writes them next.

        The control loop stops when a message arrived during a write (the line was slow): it handles it
        first, then writes the rest, as it would have been handled while a writer task waited on the line."""
        if self._writing:
            return
        self._writing = True
        try:
            while self.ops and not (until_mail_in is not None and until_mail_in.depth):
                await self._write_next(self.ops.popleft())
        finally:
            self._writing = False

    async def _write_next(self, op: LineOp) -> None:
        if self._line_closed and not isinstance(op, HangUp):
            return
        self._trace(op)
        if isinstance(op, HangUp):
            # Told before the line closes, so the caller's side seeing the close cannot claim the hang-up;
            # the supervisor takes the first EndCall and hangs the line up itself.
            self._to_supervisor.send_nowait(EndCall(by="ai", reason=op.reason))
        try:
            await self._write(op)
        except LineClosed as exc:
            self._line_closed = True
            self.trace.record("line_closed", during=type(op).__name__.lower(), why=str(exc))

    async def _write(self, op: LineOp) -> None:
        if isinstance(op, Media):
            await self.line.send_audio(op.payload, op.mark)
        elif isinstance(op, Clear):
            await self.line.clear()
        elif not self._line_closed:
            await self.line.hang_up()

    def _trace(self, op: LineOp) -> None:
        record = self.trace.record
        if isinstance(op, Media):
            if not self.trace.detailed:
                return  # a frame of audio out: nothing counts it, and a call without a trace keeps nothing
            record("io", peer="caller", dir="out", type="media", item_id=op.item_id, bytes=len(op.payload))
            record("io", peer="caller", dir="out", type="mark", item_id=op.item_id, name=op.mark)
        elif isinstance(op, Clear):
            # A barge-in's clear carries its reaction time: onset frame received -> clear handed to the line.
            since = {} if op.since is None else {"reaction_ms": round((trio.current_time() - op.since) * 1000.0, 2)}
            record("io", peer="caller", dir="out", type="clear", item_id=op.item_id, reason=op.reason, **since)
        else:
            record("io", peer="caller", dir="out", type="hangup", reason=op.reason)
