"""Callback promises: every time the caller is told a person will call back, a request that must be stored.

The AI promises a callback when a booking failed or could not be made (`booking_failed`,
`booking_unavailable` notes) and when the runtime hands the call off (model refused, unreachable or
frozen; a business whose settings are invalid). Each promise is queued here the moment it is made and
written by `callback_writer.CallbackWriter`; a promise stays queued until the database took it. The
queue is bounded: past `MAX_QUEUED` the oldest is given up (and said so), never the call. No I/O here.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable

import attrs

MAX_QUEUED = 100
"""Promises one call keeps while the database is unavailable (a call makes a handful at most)."""
REQUEST_MAX_CHARS = 500

CALLBACK_NOTES = frozenset({"booking_failed", "booking_unavailable"})
"""Server notes after which the AI tells the caller a person will get back to them (actors/prompt.py)."""
RECORDED_BY_THE_BOOKING_ACTOR = frozenset({"unverified_caller"})
"""Note reasons whose callback request the BookingActor writes itself (one per kind of change asked)."""


@attrs.frozen
class CallbackPromise:
    business_id: int
    call_sid: str
    phone: str | None
    name: str | None
    request: str
    """What the caller asked for, in their words (their last utterance), cut at `REQUEST_MAX_CHARS`."""
    reason: str
    at: dt.datetime


class CallbackOutbox:
    def __init__(self, capacity: int = MAX_QUEUED) -> None:
        self._queue: deque[CallbackPromise] = deque()
        self._capacity = capacity
        self.reasons: set[str] = set()
        """Every reason promised in this call."""
        self.on_queued: Callable[[], None] = lambda: None
        """Set by the writer: wakes it."""

    def __len__(self) -> int:
        return len(self._queue)

    def promise(self, promise: CallbackPromise) -> CallbackPromise | None:
        """Queue a promise; the oldest one given up to make room, if any."""
        self.reasons.add(promise.reason)
        self._queue.append(attrs.evolve(promise, request=promise.request[:REQUEST_MAX_CHARS]))
        self.on_queued()
        return self._queue.popleft() if len(self._queue) > self._capacity else None

    def next(self) -> CallbackPromise | None:
        return self._queue[0] if self._queue else None

    def written(self) -> None:
        """The promise `next()` returned is stored."""
        self._queue.popleft()
