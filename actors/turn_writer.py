"""TurnWriter: the call's transcript writes, in order, off the RealtimeActor's lock.

The actor queues a write and goes on at once; one task of the actor's nursery performs the
writes in the order they were queued, so a slow or unavailable database never stalls audio
forwarding or a barge-in. A write that still fails after the gateway's retries is reported
and dropped: the call goes on. When the actor stops (crash or end of call) `flush` writes
what is left, bounded in time, so a restarted instance reloads everything said before.

Turns are keyed by their index in the actor's `turns`: a caller placeholder appended under
key k is filled in later with `fill(k, text)`, in place, so the stored transcript keeps the
caller's words where they were spoken.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs
import trio

from store.errors import StoreError

from .call_context import CallContext
from .realtime_protocol import TurnRole


@attrs.frozen
class _Append:
    key: int
    role: TurnRole
    text: str


@attrs.frozen
class _Fill:
    key: int
    text: str


class TurnWriter:
    def __init__(self, ctx: CallContext, on_error: Callable[[str, Exception], None]) -> None:
        self.ctx = ctx
        self._on_error = on_error
        self._queue: deque[_Append | _Fill] = deque()
        self._seqs: dict[int, int] = {}
        self._wakeup = trio.Event()

    @property
    def pending(self) -> int:
        """Writes queued or in flight."""
        return len(self._queue)

    def append(self, key: int, role: TurnRole, text: str) -> None:
        self._queue.append(_Append(key, role, text))
        self._wakeup.set()

    def fill(self, key: int, text: str) -> None:
        self._queue.append(_Fill(key, text))
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._write_queued()
            self._wakeup = trio.Event()
            await self._wakeup.wait()

    async def flush(self, timeout_s: float) -> None:
        """Write what is left (the actor is stopping), shielded from its cancellation, for at most `timeout_s`."""
        with trio.CancelScope(shield=True), trio.move_on_after(timeout_s):
            await self._write_queued()

    async def _write_queued(self) -> None:
        # A write leaves the queue only once done: one cancelled before it ran is retried by `flush`.
        while self._queue:
            write = self._queue[0]
            try:
                await self._write(write)
            except StoreError as exc:
                self._on_error("record_turn", exc)
            self._queue.popleft()

    async def _write(self, write: _Append | _Fill) -> None:
        gateway, store, call_sid = self.ctx.gateway, self.ctx.store, self.ctx.call_sid
        seq = self._seqs.get(write.key)
        if isinstance(write, _Fill) and seq is not None:
            await gateway.run_retrying(self._retrying, store.set_turn_text, call_sid, seq, write.text)
            return
        # A fill whose placeholder could not be written becomes a turn of its own.
        role = write.role if isinstance(write, _Append) else "user"
        self._seqs[write.key] = await gateway.run_retrying(
            self._retrying, store.record_turn, call_sid, role, write.text
        )

    def _retrying(self, exc: Exception, delay: float) -> None:
        self.ctx.trace.record("realtime", what="store_retry", op="record_turn", delay_s=delay, error=str(exc))
