"""Typed, traced mailboxes over a lean trio queue (`MessageQueue`).

A `Mailbox[T]` belongs to one receiving actor and is created by the call
supervisor, so it outlives restarts of its owner: nothing queued is lost when an
actor crashes. Senders get an `Outbox[T]` labelled with their own name.

Two policies:

* control (`capacity=None`): unbounded, never drops, never reorders. Every send
  and every receive is a trace event with the message's summarised fields.
* audio (`capacity=N`): bounded; when full the oldest message is dropped and
  counted. Tracing is aggregated (one `audio` event per window with counts), so
  50 frames/s per call cost no per-frame JSON.

An audio mailbox's owner, about to wait on it empty, can lend it its synchronous handling (`lend`):
until it takes it back, a sender's `Outbox.hand_over` has a message to the empty mailbox handled in the
sender's own task step, not queued: a caller frame then costs one task step, the line's, instead of
two (the line's, and its owner's wake-up). While the mailbox holds messages, or no handler is lent (the
owner restarting, or busy), `hand_over` queues, so the order never changes. A handed message is counted
as sent and received, as a queued one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Generic, TypeAlias, TypeVar

import attrs
import trio

from .message_queue import MessageQueue
from .trace import Trace, message_fields

T = TypeVar("T")

Owed: TypeAlias = Callable[[], Awaitable[None]]
"""What a handler's handling left to do that must be awaited (a write to the line) before the next message."""

AUDIO_SUMMARY_WINDOW_MS = 1000.0
_AUDIO_SUMMARY_WINDOW_S = AUDIO_SUMMARY_WINDOW_MS / 1000.0


@attrs.define
class AudioCounters:
    sent: int = 0
    received: int = 0
    dropped: int = 0
    bytes: int = 0


class Mailbox(Generic[T]):
    """One actor's inbox. `receive()` is for the owner only; `outbox(sender)` for everyone else."""

    def __init__(self, name: str, owner: str, trace: Trace, *, capacity: int | None = None) -> None:
        self.name = name
        self.owner = owner
        self.trace = trace
        self.capacity = capacity
        self.is_audio = capacity is not None
        self._queue: MessageQueue[tuple[int, str, T]] = MessageQueue(math.inf if capacity is None else capacity)
        self._next_id = 0
        self.dropped_total = 0
        self._window = AudioCounters()
        self._window_start = trace.now_ms()
        self._now = trio.lowlevel.current_clock().current_time
        self._window_ends_at = self._now() + _AUDIO_SUMMARY_WINDOW_S
        """On trio's clock, read directly: checked on every frame, so without the trace's rounded milliseconds."""
        self._put: Callable[[str, T], None] = self._put_audio if self.is_audio else self._put_control
        """Chosen once: the frame path pays no policy branch per message."""
        self._handler: Callable[[T], Owed | None] | None = None
        """The owner's handling, lent while it waits on this empty mailbox (`lend`)."""
        self._traces_sends = trace.keeps("send")
        self._traces_receives = trace.keeps("recv")
        """Fixed with the trace: a call without a trace file or memory builds no event per message."""

    # -- sending -----------------------------------------------------------

    def outbox(self, sender: str) -> Outbox[T]:
        return Outbox(self, sender)

    def _put_control(self, sender: str, message: T) -> None:
        self._next_id += 1
        envelope = (self._next_id, sender, message)
        self._queue.send_nowait(envelope)
        if self._traces_sends:
            self.trace.record(
                "send",
                mailbox=self.name,
                frm=sender,
                to=self.owner,
                id=self._next_id,
                type=type(message).__name__,
                fields=message_fields(message),
                depth=self.depth,
            )

    def _put_audio(self, sender: str, message: T) -> None:
        self._next_id += 1
        envelope = (self._next_id, sender, message)
        try:
            self._queue.send_nowait(envelope)
        except trio.WouldBlock:
            # Drop-oldest: the freshest audio is what matters for VAD and barge-in.
            self._queue.receive_nowait()
            self._queue.send_nowait(envelope)
            self.dropped_total += 1
            self._window.dropped += 1
        self._count_sent(message)

    def _count_sent(self, message: T) -> None:
        self._window.sent += 1
        payload = getattr(message, "payload", b"")
        self._window.bytes += len(payload) if isinstance(payload, bytes) else 0
        if self._now() >= self._window_ends_at:
            self._summarise()

    # -- handing over ------------------------------------------------------

    def lend(self, handler: Callable[[T], Owed | None]) -> None:
        """The owner's synchronous handling, for `Outbox.hand_over` while this audio mailbox is empty. It
        returns what the sender must await before its next message, or None; it must not raise."""
        assert self.is_audio, "control messages are traced one by one through the queue"
        self._handler = handler

    def take_back(self) -> None:
        self._handler = None

    def _hand_over(self, sender: str, message: T) -> Owed | None:
        handler = self._handler
        if handler is None or self._queue:
            self._put(sender, message)
            return None
        self._next_id += 1
        self._count_sent(message)
        self._window.received += 1
        return handler(message)

    def _summarise(self) -> None:
        now = self.trace.now_ms()
        window = self._window
        if window.sent or window.received or window.dropped:
            self.trace.record(
                "audio",
                mailbox=self.name,
                to=self.owner,
                since=self._window_start,
                sent=window.sent,
                received=window.received,
                dropped=window.dropped,
                bytes=window.bytes,
                depth=self.depth,
            )
        self._window = AudioCounters()
        self._window_start = now
        self._window_ends_at = self._now() + _AUDIO_SUMMARY_WINDOW_S

    # -- receiving ---------------------------------------------------------

    async def receive(self) -> T:
        """The next message, in order; raises `trio.EndOfChannel` once the mailbox is closed and empty."""
        envelope = await self._queue.receive()
        return self._delivered(envelope)

    def receive_nowait(self) -> T:
        return self._delivered(self._queue.receive_nowait())

    def _delivered(self, envelope: tuple[int, str, T]) -> T:
        msg_id, sender, message = envelope
        if self.is_audio:
            # Counted only: the window is closed by the next put (frames come every 20 ms) or by `close`,
            # so a frame reads the clock once on its way through, not twice.
            self._window.received += 1
        elif self._traces_receives:
            self.trace.record(
                "recv",
                mailbox=self.name,
                frm=sender,
                to=self.owner,
                id=msg_id,
                type=type(message).__name__,
                depth=self.depth,
            )
        return message

    def __aiter__(self) -> Mailbox[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    # -- lifecycle ---------------------------------------------------------

    @property
    def depth(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """No more sends; the owner drains what is queued, then sees end of channel."""
        if self.is_audio:
            self._summarise()
        self._handler = None
        self._queue.close()


@attrs.frozen
class Outbox(Generic[T]):
    """A sender's handle on someone else's mailbox. Sends never block."""

    mailbox: Mailbox[T]
    sender: str

    def send_nowait(self, message: T) -> None:
        """Queue `message`. Sending to a closed mailbox (the call is ending) is a no-op."""
        try:
            self.mailbox._put(self.sender, message)
        except trio.ClosedResourceError:
            self.mailbox.trace.record(
                "send_after_close",
                mailbox=self.mailbox.name,
                frm=self.sender,
                type=type(message).__name__,
            )

    def hand_over(self, message: T) -> Owed | None:
        """Queue `message`, or have the owner handle it now when it lent its handling and nothing is queued
        ahead of it (`Mailbox.lend`); returns what the handling left to await before the next message."""
        try:
            return self.mailbox._hand_over(self.sender, message)
        except trio.ClosedResourceError:
            self.send_nowait(message)  # traced as a send after close
            return None

    async def send(self, message: T) -> None:
        """Queue `message` and yield to the scheduler (a checkpoint)."""
        self.send_nowait(message)
        await trio.lowlevel.checkpoint()
