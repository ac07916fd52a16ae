"""What the simulated peer keeps across the connections of one call: the script cursor, the faults
already played, ids unique across sessions, and transcripts a closed session never delivered.

A new connection is a new `PeerSession` with an empty conversation; everything here outlives it.
"""

from __future__ import annotations

import itertools
import math

import attrs
import trio

from callrt.sim.peer_script import PeerFault, SimScript


@attrs.define
class PeerCall:
    """What the peer keeps across the connections of one call: the script cursor and the faults played."""

    script: SimScript
    origin: float | None = None
    """trio time of the first connection: fault `at_ms` counts from here."""
    next_say: int = 0
    fired: set[int] = attrs.field(factory=set)
    ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    orphaned: dict[bytes, str | None] = attrs.field(factory=dict)
    """Transcripts of committed audio a closed session never delivered, by the audio's digest: the same
    audio committed again in a later session transcribes the same (as the service would)."""
    refused_values: dict[int, object] = attrs.field(factory=dict)
    """`refuse_session` faults: the value each refused first."""

    def connected(self) -> None:
        if self.origin is None:
            self.origin = trio.current_time()

    def elapsed_ms(self) -> float:
        return 0.0 if self.origin is None else (trio.current_time() - self.origin) * 1000

    def new_id(self, prefix: str) -> str:
        """Ids unique across the call's sessions, shaped like the service's (`item_…`, `resp_…`)."""
        return f"{prefix}_sim{next(self.ids):06d}"

    def take_say(self) -> str | None:
        """The transcript of the next committed utterance (None once the script is exhausted)."""
        index = self.next_say
        self.next_say += 1
        return self.script.says[index] if index < len(self.script.says) else None

    def duplicating(self) -> bool:
        return any(f.kind == "duplicate_events" and f.at_ms <= self.elapsed_ms() for f in self.script.faults)

    def take_due(self, kind: str) -> PeerFault | None:
        """The first unplayed fault of `kind` whose time has come, marked as played."""
        for index, fault in enumerate(self.script.faults):
            if fault.kind == kind and index not in self.fired and fault.at_ms <= self.elapsed_ms():
                self.fired.add(index)
                return fault
        return None

    def frozen_until(self) -> float:
        """The trio time a `realtime_freeze` in progress ends (now, or earlier, when none is): the service
        stops answering every connection of the call, its sockets staying open."""
        now = trio.current_time()
        ends = [
            self.origin + (fault.at_ms + fault.ms) / 1000
            for fault in self.script.faults
            if self.origin is not None and fault.kind == "realtime_freeze" and fault.at_ms <= self.elapsed_ms()
        ]
        return max([now, *ends])

    def refuses(self, path_value: dict[str, object]) -> PeerFault | None:
        """The `refuse_session` fault refusing a session with these field values (by the fault's `field`):
        `*` refuses every session; a field, the first value it saw there (so a changed value passes)."""
        for index, fault in enumerate(self.script.faults):
            if fault.kind != "refuse_session" or fault.at_ms > self.elapsed_ms():
                continue
            if fault.field == "*":
                return fault
            value = path_value.get(fault.field)
            first = self.refused_values.setdefault(index, value)
            if value is not None and value == first:
                return fault
        return None

    def disconnect_deadline(self) -> tuple[float, int | None]:
        """(trio deadline, fault index) of the next unplayed `realtime_disconnect`, or (inf, None)."""
        assert self.origin is not None
        pending = [
            (self.origin + fault.at_ms / 1000, index)
            for index, fault in enumerate(self.script.faults)
            if fault.kind == "realtime_disconnect" and index not in self.fired
        ]
        return min(pending) if pending else (math.inf, None)
