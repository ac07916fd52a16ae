"""The one interface every booking extractor offers (rules, LLM): conversation in, `Action` out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from ..messages import HistoryTurn
from .action import Action


class Extractor(Protocol):
    async def extract(self, history: Sequence[HistoryTurn], now: dt.datetime, timezone: str) -> Action:
        """The caller's current booking action, from the whole conversation so far (latest statement wins).

        `now` is timezone-aware; relative dates are read in the business's `timezone`.
        """
        ...
