"""Twilio's outbound playout buffer, as the simulated caller hears it.

Audio queued for the caller plays back to back in real time (8000 mu-law bytes
a second, whatever size the chunks have). A mark is echoed once every byte
queued before it has played. `clear` drops whatever has not played yet and, as
Twilio does, echoes every pending mark at once (the docs: marks of cleared audio
are sent back too), so a mark alone never proves the audio was heard.

Times are trio times (seconds, virtual under MockClock). The schedule is
computed when audio arrives, not by ticking: only mark echoes need a task (`run`),
or a caller that ticks anyway to call `echo_due` (the bench's, with every frame).
"""

from __future__ import annotations

import collections
from collections.abc import Callable

import attrs
import trio

BYTES_PER_S = 8000


@attrs.define
class Span:
    """One stretch of AI audio heard without a gap: [start, end) trio time, `bytes` played."""

    start: float
    end: float
    bytes: int
    cleared: bool = False


MarkEcho = Callable[[str, bool], None]
"""Called with (mark name, cleared) when a mark comes back."""


class Playout:
    def __init__(self, on_mark: MarkEcho) -> None:
        self._on_mark = on_mark
        self._tail = -float("inf")  # when everything queued so far will have played
        self._marks: collections.deque[tuple[float, str]] = collections.deque()
        self._kick = trio.Event()
        self.spans: list[Span] = []
        self.clears: list[float] = []
        self.marks_echoed = 0
        self.marks_echoed_on_clear = 0

    # -- what the line does ------------------------------------------------------------------------------

    def add_audio(self, nbytes: int) -> None:
        now = trio.current_time()
        if nbytes <= 0:
            return
        if self._tail < now or not self.spans or self.spans[-1].cleared:
            self.spans.append(Span(start=now, end=now, bytes=0))
            self._tail = now
        span = self.spans[-1]
        self._tail += nbytes / BYTES_PER_S
        span.end = self._tail
        span.bytes += nbytes

    def add_mark(self, name: str) -> None:
        self._marks.append((max(trio.current_time(), self._tail), name))
        self._kick.set()

    def clear(self) -> None:
        now = trio.current_time()
        self.clears.append(now)
        self._cut(now, cleared=True)
        while self._marks:
            _, name = self._marks.popleft()
            self.marks_echoed_on_clear += 1
            self._on_mark(name, True)

    def finish(self) -> None:
        """The call ended: audio still queued was never heard."""
        self._cut(trio.current_time(), cleared=False)

    def _cut(self, now: float, *, cleared: bool) -> None:
        if self._tail > now and self.spans:
            span = self.spans[-1]
            span.bytes -= round((self._tail - now) * BYTES_PER_S)
            span.end = now
            span.cleared = cleared
            self._tail = now

    # -- what the caller perceives -------------------------------------------------------------------------

    def playing(self) -> bool:
        return self._tail > trio.current_time()

    def started_since(self, since: float) -> bool:
        """AI audio is playing now, or began at or after `since`."""
        return self.playing() or (bool(self.spans) and self.spans[-1].start >= since)

    def done_since(self, since: float, quiet_s: float) -> bool:
        """The last AI audio stopped `quiet_s` ago (or more), and that moment came at or after `since`."""
        if not self.spans or self.playing():
            return False
        done_at = self._tail + quiet_s
        return trio.current_time() >= done_at >= since

    @property
    def heard_bytes(self) -> int:
        now = trio.current_time()
        total = sum(span.bytes for span in self.spans)
        return total - max(0, round((self._tail - now) * BYTES_PER_S))

    # -- the mark clock ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Echo each mark when the audio before it has played."""
        while True:
            due = self._marks[0][0] if self._marks else float("inf")
            with trio.move_on_at(due):
                self._kick = trio.Event()
                await self._kick.wait()
                continue
            self.echo_due()

    def echo_due(self) -> None:
        """Echo the marks whose audio has played by now: `run`'s work, for a caller that has its own clock."""
        now = trio.current_time()
        while self._marks and self._marks[0][0] <= now:
            _, name = self._marks.popleft()
            self.marks_echoed += 1
            self._on_mark(name, False)
