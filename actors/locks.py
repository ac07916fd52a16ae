"""A trio lock whose uncontended acquire does not yield to the scheduler.

`trio.Lock.acquire` always checkpoints, free lock or not: a full scheduler round trip for
every model event and inbox message the RealtimeActor handles, and for every websocket
send. Taking a free lock is synchronous here; waiting for a held one parks the task (and can
be cancelled), first come first served, and a release hands the lock straight to the first
waiter, so a newcomer never overtakes the queue. The awaits around each use (a receive, a
socket write) are the checkpoints. It is only an `async with` lock: no owner checks, which
are what made `trio.Lock`'s free acquire cost three times as much (3.2 against 1.0 µs).
"""

from __future__ import annotations

from types import TracebackType

import trio


class QuickLock:
    def __init__(self) -> None:
        self._held = False
        self._waiters = trio.lowlevel.ParkingLot()

    def locked(self) -> bool:
        return self._held

    async def __aenter__(self) -> None:
        if not self._held:
            self._held = True
            return
        await self._waiters.park()  # the releasing task hands the lock over: `_held` stays True

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._waiters:
            self._waiters.unpark()
        else:
            self._held = False
