"""One timer for every bench caller's frame deadlines: the load generator's pacing.

Each caller sends a frame every 20 ms on absolute deadlines, thousands of frames a second
in one process. `trio.sleep_until` per frame costs a cancel scope and a deadline of trio's
own for each; the clock keeps one heap of deadlines and one task that sleeps until the
earliest, then wakes every caller that is due. Ticks are at least `resolution_s` apart,
so a frame leaves at most that much late (never early); `LoadCaller.lateness_ms` records it.
"""

from __future__ import annotations

import heapq
import itertools

import trio

RESOLUTION_S = 0.001


class FrameClock:
    def __init__(self, resolution_s: float = RESOLUTION_S) -> None:
        self.resolution_s = resolution_s
        self._heap: list[tuple[float, int, trio.lowlevel.Task]] = []
        self._order = itertools.count()
        self._abandoned: set[int] = set()
        self._earlier = trio.Event()

    async def sleep_until(self, deadline: float) -> None:
        """Like `trio.sleep_until`, with the clock's resolution; cancellable."""
        if deadline <= trio.current_time():
            await trio.lowlevel.checkpoint()
            return
        entry = (deadline, next(self._order), trio.lowlevel.current_task())
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._earlier.set()  # the ticker sleeps until a later deadline

        def abort(_: object) -> trio.lowlevel.Abort:
            self._abandoned.add(entry[1])
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    async def run(self) -> None:
        """The ticker: runs until cancelled."""
        last_tick = -float("inf")
        while True:
            self._earlier = trio.Event()
            wake_at = max(self._heap[0][0], last_tick + self.resolution_s) if self._heap else float("inf")
            with trio.move_on_at(wake_at):
                await self._earlier.wait()
                continue
            last_tick = now = trio.current_time()
            while self._heap and self._heap[0][0] <= now:
                _, order, task = heapq.heappop(self._heap)
                if order in self._abandoned:
                    self._abandoned.discard(order)
                else:
                    trio.lowlevel.reschedule(task)
