"""Login attempts limited per client address and per user name: a sliding window of failures.

In memory, per server process: with `--workers N` an attacker spread over the workers gets at most
N times the budget, which still stops guessing at any useful rate (Argon2 costs ~50 ms a try).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

WINDOW_S = 15 * 60.0
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
_MAX_KEYS = 10_000
"""Bound on remembered keys, so a flood of made-up names cannot grow memory without end."""


class LoginLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        horizon = self._clock() - WINDOW_S
        while failures and failures[0] < horizon:
            failures.popleft()
        return len(failures)

    def blocked(self, address: str, username: str) -> bool:
        return (
            self._recent("ip:" + address) >= MAX_FAILURES_PER_ADDRESS
            or self._recent("user:" + username.lower()) >= MAX_FAILURES_PER_USER
        )

    def failed(self, address: str, username: str) -> None:
        if len(self._failures) >= _MAX_KEYS:
            for key in [key for key in self._failures if not self._recent(key)]:
                del self._failures[key]
            if len(self._failures) >= _MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))
        now = self._clock()
        for key in ("ip:" + address, "user:" + username.lower()):
            self._failures.setdefault(key, collections.deque()).append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop("user:" + username.lower(), None)
