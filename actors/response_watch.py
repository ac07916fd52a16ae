"""ResponseWatch: whether the model answers, and answers aloud.

Two failures leave a caller in silence with everything else looking healthy, and this machine notices
both (times are numbers passed in; the shell sleeps until `deadline` and reports its expiry):

* **a frozen model**: a `session.update` with no `session.updated`, or a `response.create` with no
  audio, within `timeout_s`. The first expiry recycles the connection (`"recycle"`); another expiry
  before the model has spoken again gives the model up (`"give_up"`: the runtime's own handoff line).
* **a text-only answer**: a response that completes with no audio at all (the beta model does this
  after history written as text). It is asked for again, aloud (`"retry"`); after
  `MAX_TEXT_ONLY_RETRIES` such answers in a row the model is given up too.

Audio from the model proves it alive and speaking: both counts start again.
"""

from __future__ import annotations

import math
from typing import Literal

MAX_TEXT_ONLY_RETRIES = 2
MAX_RECYCLES = 1
"""Connections recycled for a freeze before the model is given up (within one stretch without audio)."""

Expiry = Literal["recycle", "give_up"]
Answer = Literal["ok", "retry", "give_up"]


class ResponseWatch:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = math.inf
        """When the awaited answer (session acknowledged, first audio) is overdue; inf: nothing awaited."""
        self.waiting_for: str | None = None
        self.recycles = 0
        self.text_only = 0
        self._audible: set[str] = set()

    def session_requested(self, now: float) -> None:
        self._await("session.updated", now)

    def session_acknowledged(self) -> None:
        if self.waiting_for == "session.updated":
            self._clear()

    def response_requested(self, now: float) -> None:
        self._await("audio", now)

    def audio(self, response_id: str) -> None:
        """Audio of this response arrived: the model is alive and speaking."""
        self._audible.add(response_id)
        self.recycles = 0
        self.text_only = 0
        if self.waiting_for == "audio":
            self._clear()

    def done(self, response_id: str, status: str, cut: bool) -> Answer:
        """A `response.done`: whether it said nothing aloud when it should have (and what to do then)."""
        if self.waiting_for == "audio":
            self._clear()
        if status != "completed" or cut or response_id in self._audible:
            return "ok"
        self.text_only += 1
        return "retry" if self.text_only <= MAX_TEXT_ONLY_RETRIES else "give_up"

    def connection_dropped(self) -> None:
        """Whatever was awaited belonged to the old connection (the new one asks again)."""
        self._clear()

    def expired(self) -> Expiry:
        """The deadline passed: recycle the connection, or (again, without audio since) give the model up."""
        self._clear()
        self.recycles += 1
        return "recycle" if self.recycles <= MAX_RECYCLES else "give_up"

    def _await(self, what: str, now: float) -> None:
        self.waiting_for = what
        self.deadline = now + self.timeout_s

    def _clear(self) -> None:
        self.waiting_for = None
        self.deadline = math.inf
