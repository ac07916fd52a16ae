"""The playout clock: which AI audio the caller has really heard, from the marks the line echoes.

It owns the items being played, the marks sent and not yet echoed, what was dropped, and the hang-up
that waits for the playout to end. The AudioActor feeds it AI chunks, marks and stops and does what it
answers (write the chunk under its mark, send `PlayoutFinished`, clear the line); it does no I/O and
reads no clock.

Each AI chunk goes out as `media` followed by a mark named `{item_id}@{ms}#{epoch}.{seq}` (ms: the
item's audio up to the end of this chunk; epoch: the AudioActor instance, counted per call). A mark
coming back means the caller heard exactly that many ms: `heard_ms` never runs ahead of the audio sent
and never goes back, which is what barge-in's `audio_end_ms` and a truncation rely on. After a `clear`,
Twilio echoes the marks of the cleared audio too: marks numbered at or below the last one sent before the
clear are recognised and ignored, as are marks of another (crashed) instance.

Restart: an instance with epoch > 1 drops the rest of every item it has no record of: items with audio
already waiting in its mailbox when it was created, and items named by a predecessor's mark (the
AudioActor clears the caller's buffer first). Audio of an item no predecessor took any of, e.g. a
greeting queued while the actor restarted, is played whole.
"""

from __future__ import annotations

import collections
import enum
import math
import re

import attrs

from .codec import ULAW_BYTES_PER_MS
from .messages import AiAudio, AiAudioDone, AudioControl

HANGUP_GRACE_MS = 3000.0
"""Extra wait, beyond the unplayed audio's own length, before hanging up without the last mark."""
MARK_OVERDUE_GRACE_MS = 5000.0
"""A mark not echoed this long after its audio would have finished playing (the audio sent before it
played back to back, in real time) counts as played: a line that never echoes marks (a broken client)
must not hold the silence timer, and with it the call, forever."""

_MARK_NAME = re.compile(r"^(?P<item>.+)@(?P<ms>\d+)#(?P<epoch>\d+)\.(?P<seq>\d+)$")


def mark_name(item_id: str, ms: int, epoch: int, seq: int) -> str:
    return f"{item_id}@{ms}#{epoch}.{seq}"


def parse_mark(name: str) -> tuple[str, int, int, int] | None:
    """(item_id, ms, epoch, seq) of one of our marks; None for anything else."""
    match = _MARK_NAME.match(name)
    if match is None:
        return None
    return match["item"], int(match["ms"]), int(match["epoch"]), int(match["seq"])


@attrs.define
class PlayoutItem:
    """One AI item's audio at the caller."""

    item_id: str
    response_id: str
    sent_bytes: int = 0
    heard_ms: int = 0
    done: bool = False
    first_mark_seq: int = attrs.field(default=0, eq=False, repr=False)
    """The sequence number of this item's first mark: an older mark with the same item id belongs to
    an earlier item of that id, already finished, and says nothing of what was heard of this one."""


@attrs.frozen
class _PendingMark:
    seq: int
    item_id: str
    ms: int
    due: float
    """When the caller will have heard it, played in real time after the audio before it (trio time, s)."""


@attrs.frozen
class Cut:
    """What `drop_unplayed` took off the line."""

    playing_item_id: str | None
    """The item whose audio the caller was hearing (the oldest unechoed mark's), if any."""
    items: list[PlayoutItem]
    """Items cut before the caller heard all of their audio, in the order they were started."""
    was_playing: bool
    """Audio was still unheard: the silence starts now."""


class MarkEcho(enum.Enum):
    """What an echoed mark says."""

    UNKNOWN = "unknown"
    """Not one of ours."""
    STALE = "stale"
    """Ours, but of audio that was cleared, or a predecessor's: nothing the caller heard."""
    HEARD = "heard"


class PlayoutClock:
    def __init__(self, epoch: int, *, backlog: int, items_taken: set[str]) -> None:
        """`backlog`: control messages already waiting for a restarted instance (epoch > 1), its
        predecessor's. `items_taken`: the call's record of items any instance took audio of (added to)."""
        self.epoch = epoch
        self.items: dict[str, PlayoutItem] = {}
        self._pending: collections.deque[_PendingMark] = collections.deque()
        self._mark_seq = 0
        self._cleared_through = 0
        self._dropped_responses: set[str] = set()
        self._dropped_items: set[str] = set()
        self._backlog = backlog
        self._items_taken = items_taken
        self.taken_by_predecessors = frozenset(items_taken)
        """Fixed when the instance starts: an item this instance takes from its backlog is its own to play."""
        self._play_end = 0.0
        """When the audio sent so far will have finished playing (trio time, s)."""
        self.hang_up_reason: str | None = None
        self.hang_up_deadline = math.inf
        """When to hang up without the last mark (the caller's line may never echo it): trio time, seconds."""

    @property
    def playing(self) -> bool:
        """AI audio is playing at the caller, and no hang-up is waiting for it: the caller may barge in."""
        return bool(self._pending) and self.hang_up_reason is None

    @property
    def idle(self) -> bool:
        """No mark sent is still unechoed: the caller's buffer is empty."""
        return not self._pending

    @property
    def unechoed_marks(self) -> int:
        return len(self._pending)

    def playing_item(self) -> PlayoutItem:
        """The item whose audio the caller is hearing (only while `not idle`)."""
        return self.items[self._pending[0].item_id]

    def take(self, message: AudioControl) -> None:
        """Every control message, before it is handled: a predecessor's items in the backlog are dropped."""
        if self._backlog:
            self._backlog -= 1
            if isinstance(message, AiAudio | AiAudioDone) and message.item_id in self.taken_by_predecessors:
                self._forget_item(message.item_id, message.response_id)

    @property
    def overdue_at(self) -> float:
        """When the oldest unechoed mark becomes overdue (inf: none is waiting)."""
        return self._pending[0].due + MARK_OVERDUE_GRACE_MS / 1000.0 if self._pending else math.inf

    def expire_overdue(self, now: float) -> tuple[int, list[PlayoutItem]]:
        """Marks overdue at `now` are taken as echoed: how many, and the items they finished."""
        expired, finished = 0, []
        while self._pending and self._pending[0].due + MARK_OVERDUE_GRACE_MS / 1000.0 <= now:
            mark = self._pending.popleft()
            expired += 1
            item = self.items.get(mark.item_id)
            if item is not None:
                item.heard_ms = max(item.heard_ms, mark.ms)
                played = self._finish_if_played(item)
                if played is not None:
                    finished.append(played)
        return expired, finished

    def add_audio(self, chunk: AiAudio, now: float) -> str | None:
        """The mark to write after the chunk; None when the chunk is dropped (a hang-up is waiting, its item
        or response was cut, or it is empty)."""
        if (
            self.hang_up_reason is not None
            or chunk.response_id in self._dropped_responses
            or chunk.item_id in self._dropped_items
            or not chunk.payload
        ):
            return None
        item = self.items.get(chunk.item_id)
        if item is None:
            item = self.items[chunk.item_id] = PlayoutItem(chunk.item_id, chunk.response_id)
            self._items_taken.add(chunk.item_id)
        item.sent_bytes += len(chunk.payload)
        self._mark_seq += 1
        if not item.first_mark_seq:
            item.first_mark_seq = self._mark_seq
        ms = item.sent_bytes // ULAW_BYTES_PER_MS
        self._play_end = max(self._play_end, now) + len(chunk.payload) / ULAW_BYTES_PER_MS / 1000.0
        self._pending.append(_PendingMark(self._mark_seq, item.item_id, ms, self._play_end))
        return mark_name(item.item_id, ms, self.epoch, self._mark_seq)

    def audio_done(self, done: AiAudioDone) -> PlayoutItem | None:
        """The item's audio is all sent; the item if the caller has heard all of it already."""
        if done.item_id in self._dropped_items or done.response_id in self._dropped_responses:
            return None
        item = self.items.get(done.item_id)
        if item is None:  # an item without audio: nothing to wait for
            item = self.items[done.item_id] = PlayoutItem(done.item_id, done.response_id)
        item.done = True
        return self._finish_if_played(item)

    def mark_echoed(self, name: str) -> tuple[MarkEcho, PlayoutItem | None]:
        """What the mark says, and the item it finished (all its audio heard), if any."""
        parsed = parse_mark(name)
        if parsed is None:
            return MarkEcho.UNKNOWN, None
        item_id, ms, epoch, seq = parsed
        if epoch != self.epoch:
            # A crashed predecessor's mark (the restart clear echoes all of them): not ours to count, and the
            # rest of its item, cut by that clear, must not be played from the middle.
            if item_id not in self.items:
                self._forget_item(item_id, None)
            return MarkEcho.STALE, None
        if seq <= self._cleared_through:
            return MarkEcho.STALE, None  # Twilio echoes the marks of cleared audio too: that audio was never heard
        while self._pending and self._pending[0].seq <= seq:
            self._pending.popleft()
        item = self.items.get(item_id)
        if item is None or seq < item.first_mark_seq:
            return MarkEcho.HEARD, None
        item.heard_ms = max(item.heard_ms, ms)
        return MarkEcho.HEARD, self._finish_if_played(item)

    def heard_ms(self, item_id: str | None) -> int:
        """What the caller heard of an item still playing; 0 when unknown here (no audio, or finished)."""
        item = self.items.get(item_id) if item_id is not None else None
        return item.heard_ms if item is not None else 0

    def drop_unplayed(self) -> Cut:
        """Everything unheard is dropped (the line is to be cleared), and late audio of every response cut."""
        playing_item_id = self._pending[0].item_id if self._pending else None
        cut: list[PlayoutItem] = []
        for item in list(self.items.values()):
            if item.done and not self._awaits_marks(item):
                continue
            self._dropped_items.add(item.item_id)
            self._dropped_responses.add(item.response_id)
            del self.items[item.item_id]
            cut.append(item)
        was_playing = bool(self._pending)
        self._pending.clear()
        self._play_end = 0.0  # the line is cleared: what comes next plays from when it is sent
        self._cleared_through = self._mark_seq
        return Cut(playing_item_id, cut, was_playing)

    def request_hang_up(self, reason: str, now: float) -> int | None:
        """A hang-up once the audio sent has been heard: the ms still unheard; None if one was requested."""
        if self.hang_up_reason is not None:
            return None
        self.hang_up_reason = reason
        unplayed_ms = sum(item.sent_bytes // ULAW_BYTES_PER_MS - item.heard_ms for item in self.items.values())
        self.hang_up_deadline = now + (unplayed_ms + HANGUP_GRACE_MS) / 1000.0
        return unplayed_ms

    def _awaits_marks(self, item: PlayoutItem) -> bool:
        return any(mark.item_id == item.item_id for mark in self._pending)

    def _finish_if_played(self, item: PlayoutItem) -> PlayoutItem | None:
        if not item.done or self._awaits_marks(item):
            return None
        del self.items[item.item_id]
        return item

    def _forget_item(self, item_id: str, response_id: str | None) -> None:
        """An item (and response) whose audio went to a crashed predecessor: the rest of it is dropped."""
        self._dropped_items.add(item_id)
        if response_id is not None:
            self._dropped_responses.add(response_id)
