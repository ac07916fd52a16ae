"""Waiting in tests without sleep-polling: a test double, a test-owned sink or a watched trace calls `Changes.notify()`
whenever it changes something; a test awaits `Changes.until(condition)`, which re-checks the condition
only on a change. Virtual time goes on only while the code under test sleeps, never for the wait itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import trio

from actors.trace import Trace

T = TypeVar("T")


class Changes:
    """A condition variable without a lock: trio runs one task at a time, so a check cannot race a change."""

    def __init__(self) -> None:
        self._waiters = trio.lowlevel.ParkingLot()

    def notify(self) -> None:
        """Wake every task waiting in `until`; call it from the trio thread after each change."""
        self._waiters.unpark_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Return once `condition()` holds (at once if it already does); bound the wait with `trio.fail_after`."""
        while not condition():
            await self._waiters.park()


class NotifyingList(list[T]):
    """A list a task appends to and another waits on: `await items.changes.until(lambda: len(items) >= 2)`."""

    def __init__(self) -> None:
        super().__init__()
        self.changes = Changes()

    def append(self, item: T) -> None:
        super().append(item)
        self.changes.notify()


class WatchedTrace(Trace):
    """A call's Trace that notifies `changes` of every event it records, so a test can wait for one."""

    def __init__(self, call_sid: str, changes: Changes | None = None) -> None:
        super().__init__(call_sid)
        self.changes = changes or Changes()

    def record(self, ev: str, **fields: Any) -> None:
        super().record(ev, **fields)
        self.changes.notify()
