"""The silence timer: how long nothing audible has happened on the call, and when to say so next.

It owns two instants (trio time, seconds, passed in by the AudioActor): the last activity, from which
the silence is measured, and the next tick. It runs from the call's start (nothing audible yet counts as
silence too) and is restarted by the caller's voice, a key press and the end of AI audio the caller
heard. Ticks are periodic: a reaction to one may produce nothing audible (a crashed RealtimeActor, a
failed or refused response), and the RealtimeActor's ladder (prompt, goodbye, hang-up again) must still
move on. While the caller speaks or AI audio plays the AudioActor holds the timer (`deadline(held=True)`).
"""

from __future__ import annotations

import math


class SilenceTimer:
    def __init__(self, timeout_ms: float, started_at: float) -> None:
        self._timeout_s = timeout_ms / 1000.0
        self._last_activity = 0.0
        self._due = 0.0
        self.restart(started_at)

    def restart(self, last_activity: float) -> None:
        """Something audible happened at `last_activity`: the silence is measured from there."""
        self._last_activity = last_activity
        self._due = last_activity + self._timeout_s

    def deadline(self, *, held: bool) -> float:
        """When the next tick is due; never while `held`."""
        return math.inf if held else self._due

    def tick(self, now: float) -> float:
        """The deadline passed at `now`: the silence so far (ms), and the next tick one timeout later."""
        self._due = now + self._timeout_s
        return round((now - self._last_activity) * 1000.0, 1)
