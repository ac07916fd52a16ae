"""TurnWriter: the call's transcript writes, in order, off the RealtimeActor's lock.

The actor queues a write and goes on at once; one task of the actor's nursery performs the
writes in the order they were queued, so a slow or unavailable database never stalls audio
forwarding or a barge-in. While the call's session row does not exist yet (`session_row`), or
the database is unavailable, the writes are held and written, in order, once it is back:
retried with the gateway's outage backoff for the life of the call. What is held is bounded
(`MAX_HELD_WRITES` writes, `MAX_HELD_BYTES` of text): beyond it the newest turn is not kept
(`turn_dropped`, and a log line), so what is stored stays the call's conversation in order, with
a gap, never shuffled. A write the store refuses for another reason is reported and dropped. When
the actor stops (crash or end of call) `flush` makes a last bounded attempt at the session row and
writes what is left; what still is not written is traced (`turns_unstored`) and logged. An instance
that carries on from its predecessor's turns in memory (the store unreadable: `known_conversation`)
takes over what that writer still held (`held`, `adopt`) and writes it first.

Turns are keyed by their index in the actor's `turns`: a caller placeholder appended under
key k is filled in later with `fill(k, text)`, in place, so the stored transcript keeps the
caller's words where they were spoken. A fill whose placeholder is still queued changes the
queued turn instead of queueing a write of its own.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import attrs
import trio

from store.errors import StoreError

from .call_context import CallContext
from .realtime_protocol import TurnRole
from .session_row import open_within

logger = logging.getLogger("callrt.realtime")

MAX_HELD_WRITES = 200
"""Turn writes held while the session row is missing or the database is down (a long call has fewer)."""
MAX_HELD_BYTES = 256 * 1024
"""UTF-8 bytes of text those held writes may carry together."""


@attrs.frozen
class _Append:
    key: int
    role: TurnRole
    text: str


@attrs.frozen
class _Fill:
    key: int
    text: str


def _size(write: _Append | _Fill) -> int:
    return len(write.text.encode("utf-8"))


@attrs.frozen
class HeldWrites:
    """What a stopped writer had not written, and the stored numbers of the turns it had: its successor
    writes them, in order, when it carries on from the same turns (`adopt`)."""

    writes: tuple[_Append | _Fill, ...]
    seqs: dict[int, int]
    dropped: frozenset[int]


class TurnWriter:
    def __init__(self, ctx: CallContext, on_error: Callable[[str, Exception], None]) -> None:
        self.ctx = ctx
        self._on_error = on_error
        self._queue: deque[_Append | _Fill] = deque()
        self._queued_bytes = 0
        self._seqs: dict[int, int] = {}
        self._dropped: set[int] = set()
        """Keys of turns not kept (the bound): their fills are not kept either."""
        self._writing = False
        """The head of the queue is being written (a fill can no longer change it)."""
        self._wakeup = trio.Event()

    @property
    def pending(self) -> int:
        """Writes queued or in flight."""
        return len(self._queue)

    def append(self, key: int, role: TurnRole, text: str) -> None:
        self._enqueue(_Append(key, role, text))

    def fill(self, key: int, text: str) -> None:
        if key in self._dropped:
            self._drop(_Fill(key, text))
            return
        for index, write in enumerate(self._queue):
            # Not written yet, nor being written: it is written with its words.
            if isinstance(write, _Append) and write.key == key and not (index == 0 and self._writing):
                self._queue[index] = attrs.evolve(write, text=text)
                self._queued_bytes += len(text.encode("utf-8")) - _size(write)
                return
        self._enqueue(_Fill(key, text))

    def _enqueue(self, write: _Append | _Fill) -> None:
        if len(self._queue) >= MAX_HELD_WRITES or self._queued_bytes + _size(write) > MAX_HELD_BYTES:
            self._drop(write)
            return
        self._queue.append(write)
        self._queued_bytes += _size(write)
        self._wakeup.set()

    def _drop(self, write: _Append | _Fill) -> None:
        """The bound is reached: the newest turn is not kept, so what is kept stays in order."""
        self._dropped.add(write.key)
        held = len(self._queue)
        role = write.role if isinstance(write, _Append) else "user"
        self.ctx.trace.record("realtime", what="turn_dropped", key=write.key, role=role, held=held)
        self.ctx.log(
            "realtime", f"[STORE] a {role} turn is not kept: {held} turns wait for the database already (the limit)"
        )

    def held(self) -> HeldWrites:
        return HeldWrites(tuple(self._queue), dict(self._seqs), frozenset(self._dropped))

    def adopt(self, held: HeldWrites) -> None:
        """Carry on from a stopped writer whose turns this actor restored, index for index (`held`): its
        writes come first, and fills of its stored turns go where they were stored."""
        self._seqs.update(held.seqs)
        self._dropped |= held.dropped
        self._queue.extendleft(reversed(held.writes))
        self._queued_bytes += sum(_size(write) for write in held.writes)
        if held.writes:
            self.ctx.trace.record("realtime", what="turn_writes_adopted", writes=len(held.writes))
            self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._write_queued()
            self._wakeup = trio.Event()
            if self._queue:  # held: the session row does not exist yet
                await self.ctx.session.settled.wait()
            else:
                await self._wakeup.wait()

    async def flush(self, timeout_s: float) -> None:
        """Write what is left (the actor is stopping), shielded from its cancellation, for at most `timeout_s`:
        the session row gets a last attempt first when it is still missing."""
        with trio.CancelScope(shield=True), trio.move_on_after(timeout_s):
            if self._queue and await open_within(self.ctx, timeout_s):
                await self._write_queued()
        if self._queue:
            self.ctx.trace.record(
                "realtime", what="turns_unstored", writes=len(self._queue), session=self.ctx.session.state
            )
            logger.error(
                "%s: %d turn writes could not be stored (session %s)",
                self.ctx.call_sid,
                len(self._queue),
                self.ctx.session.state,
            )

    async def _write_queued(self) -> None:
        # A write leaves the queue only once done: one cancelled before it ran is retried by `flush`.
        while self._queue:
            if self.ctx.session.state != "open":
                if self.ctx.session.state == "failed":
                    self._give_up("the call's session was refused")
                return
            self._writing = True
            try:
                await self._write(self._queue[0])
            except StoreError as exc:
                self._on_error("record_turn", exc)
            finally:
                self._writing = False
            self._queued_bytes -= _size(self._queue.popleft())

    def _give_up(self, why: str) -> None:
        self.ctx.trace.record("realtime", what="turns_unstored", writes=len(self._queue), session="failed")
        self.ctx.log("realtime", f"[STORE] {len(self._queue)} turn writes dropped: {why}")
        self._queue.clear()
        self._queued_bytes = 0

    async def _write(self, write: _Append | _Fill) -> None:
        gateway, store, call_sid = self.ctx.gateway, self.ctx.store, self.ctx.call_sid
        seq = self._seqs.get(write.key)
        if isinstance(write, _Fill) and seq is not None:
            await gateway.run_until_available(self._retrying, store.set_turn_text, call_sid, seq, write.text)
            return
        # A fill whose placeholder could not be written becomes a turn of its own.
        role = write.role if isinstance(write, _Append) else "user"
        self._seqs[write.key] = await gateway.run_until_available(
            self._retrying, store.record_turn, call_sid, role, write.text
        )

    def _retrying(self, exc: Exception, delay: float) -> None:
        self.ctx.trace.record("realtime", what="store_retry", op="record_turn", delay_s=delay, error=str(exc))
