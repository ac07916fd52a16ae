"""ModelLink: the state of the RealtimeActor's link to the model, without the link itself.

It owns what outlives one receive but not one connection: when the current session began
(for its rotation), whether the server acknowledged our `session.update`, the numbering of our
client events, and the ids of the server events already handled (a duplicate is skipped; ids
are unique within one session only, so a new session forgets them). It also owns the reconnect
schedule. The websocket, its pump and the sends live in `model_session.ModelSession`; this part
takes time as a number and never blocks.
"""

from __future__ import annotations

from collections import deque

RECONNECT_INITIAL_S = 0.2
RECONNECT_MAX_S = 3.2
RECONNECT_ATTEMPTS = 6
SEEN_EVENT_IDS = 1024
"""Server event ids remembered per session for de-duplication (the oldest is forgotten first)."""
SENT_EVENT_TYPES = 256
"""Our latest client events remembered by id, so that an `error` naming one says what it refused."""


def reconnect_delay(attempt: int) -> float | None:
    """The wait after failed connect attempt `attempt` (1-based) before the next; None: give up."""
    if attempt >= RECONNECT_ATTEMPTS:
        return None
    return min(RECONNECT_INITIAL_S * 2.0 ** (attempt - 1), RECONNECT_MAX_S)


class ModelLink:
    def __init__(self) -> None:
        self.ready = False
        """The server acknowledged this session's `session.update`: responses may be asked for."""
        self.connected_at = 0.0
        self._sent_events = 0
        self._seen_ids: deque[str] = deque()
        self._seen_set: set[str] = set()
        self._sent_types: dict[str, str] = {}

    def connected(self, now: float) -> None:
        """A new session began at `now`: not configured yet, and no server event seen in it."""
        self.ready = False
        self.connected_at = now
        self._seen_ids.clear()
        self._seen_set.clear()

    def acknowledged(self) -> None:
        self.ready = True

    def dropped(self) -> None:
        self.ready = False

    def rotation_due_at(self, max_session_s: float) -> float:
        return self.connected_at + max_session_s

    def next_event_id(self, event_type: str = "") -> str:
        """The id of our next client event: `rt_<n>`, counted over the actor's life, never reused."""
        self._sent_events += 1
        event_id = f"rt_{self._sent_events}"
        self._sent_types[event_id] = event_type
        if len(self._sent_types) > SENT_EVENT_TYPES:
            del self._sent_types[next(iter(self._sent_types))]
        return event_id

    def sent_type(self, event_id: str | None) -> str | None:
        """The type of our client event with this id, if it is one of the latest `SENT_EVENT_TYPES`."""
        return self._sent_types.get(event_id) if event_id else None

    def is_duplicate(self, event_id: object) -> bool:
        """Whether this session already delivered a server event with this id; a new id is remembered.

        An event without a (string, non-empty) id cannot be recognised again and is never a duplicate.
        """
        if not isinstance(event_id, str) or not event_id:
            return False
        if event_id in self._seen_set:
            return True
        self._seen_ids.append(event_id)
        self._seen_set.add(event_id)
        if len(self._seen_ids) > SEEN_EVENT_IDS:
            self._seen_set.discard(self._seen_ids.popleft())
        return False
