"""A trio lock whose uncontended acquire does not yield to the scheduler.

`trio.Lock.acquire` always checkpoints, free lock or not: a full scheduler round trip for
every model event and inbox message the RealtimeActor handles, and for every websocket
send. Taking a free lock is synchronous here; waiting for a held one blocks (and can be
cancelled) as with `trio.Lock`. The awaits around each use (a receive, a socket write)
are the checkpoints.
"""

from __future__ import annotations

from types import TracebackType

import trio


class QuickLock:
    def __init__(self) -> None:
        self._lock = trio.Lock()

    def locked(self) -> bool:
        return self._lock.locked()

    async def __aenter__(self) -> None:
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()
