"""Who may hold what on the media socket: a connection waiting for its `start`, or a call slot.

A call slot is taken only after a valid `start` (a genuine stream token): connections that have
not proved anything wait in a small pool of their own, each for a short time. When the pool is
full the oldest waiting connection is dropped for the newcomer: Twilio sends `start` within
milliseconds of connecting, so a flood of idle sockets ages out of the pool while a real call's
connection, always among the newest, gets its `start` through.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

import trio


class Admission:
    def __init__(self, *, max_pending: int, max_calls: int) -> None:
        if max_pending < 1 or max_calls < 1:
            raise ValueError("max_pending and max_calls must be at least 1")
        self.max_pending = max_pending
        self.max_calls = max_calls
        self.calls = 0
        self.evicted_total = 0
        self._waiting: collections.OrderedDict[int, trio.CancelScope] = collections.OrderedDict()
        self._next_key = 0

    @property
    def pending(self) -> int:
        return len(self._waiting)

    @contextlib.contextmanager
    def waiting(self, timeout_s: float) -> Iterator[trio.CancelScope]:
        """A scope for the time before `start`: cancelled after `timeout_s`, or earlier when it is the
        oldest in a full pool and another connection arrives (check `cancelled_caught` afterwards)."""
        if len(self._waiting) >= self.max_pending:
            _, oldest = self._waiting.popitem(last=False)
            oldest.cancel()
            self.evicted_total += 1
        key = self._next_key
        self._next_key += 1
        with trio.CancelScope(deadline=trio.current_time() + timeout_s) as scope:
            self._waiting[key] = scope
            try:
                yield scope
            finally:
                self._waiting.pop(key, None)

    def take_call_slot(self) -> bool:
        if self.calls >= self.max_calls:
            return False
        self.calls += 1
        return True

    def release_call_slot(self) -> None:
        self.calls -= 1
