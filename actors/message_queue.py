"""MessageQueue: the buffer under a mailbox, a trio memory channel cut down to what mailboxes use.

A mailbox passes every caller frame and every control message of a call: several hundred a
second per call. `trio.open_memory_channel` pays on each for what mailboxes never use (clones,
blocking senders, statistics, per-task bookkeeping), and its `receive` raises `WouldBlock`
internally whenever it has to wait, which is nearly every time. This keeps the same contract
for one sender side and any number of receivers:

* `send_nowait` hands the message to the longest-waiting receiver, or buffers it; a full
  buffer raises `trio.WouldBlock`, a closed queue `trio.ClosedResourceError`.
* `receive` is a checkpoint, like a channel's: it takes a buffered message and then yields
  (shielded, so the message is never lost to a cancellation), or parks until one arrives.
  Once the queue is closed and drained it raises `trio.EndOfChannel`.
* `close` is synchronous and wakes every parked receiver with `trio.EndOfChannel`.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import outcome
import trio

T = TypeVar("T")


class MessageQueue(Generic[T]):
    def __init__(self, capacity: float) -> None:
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._receivers: deque[trio.lowlevel.Task] = deque()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def send_nowait(self, item: T) -> None:
        if self._closed:
            raise trio.ClosedResourceError
        if self._receivers:
            trio.lowlevel.reschedule(self._receivers.popleft(), outcome.Value(item))
        elif len(self._items) < self.capacity:
            self._items.append(item)
        else:
            raise trio.WouldBlock

    def receive_nowait(self) -> T:
        if self._items:
            return self._items.popleft()
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> T:
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._items:
            buffered = self._items.popleft()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return buffered
        if self._closed:
            raise trio.EndOfChannel
        task = trio.lowlevel.current_task()
        self._receivers.append(task)

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            self._receivers.remove(task)
            return trio.lowlevel.Abort.SUCCEEDED

        item: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return item

    def close(self) -> None:
        """No more sends; receivers drain what is buffered, then see `trio.EndOfChannel`."""
        self._closed = True
        while self._receivers:
            trio.lowlevel.reschedule(self._receivers.popleft(), outcome.Error(trio.EndOfChannel()))
