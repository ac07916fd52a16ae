"""What every actor of one call shares: identity, settings, trace, store access,
the wall clock for bookings, and the call's mailboxes.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .callback_promises import CallbackOutbox
from .config import CallConfig
from .db import StoreGateway
from .defaults import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from .defaults import Language as Language
from .known_conversation import KnownConversation
from .mailbox import Mailbox
from .messages import AudioControl, BookingInbox, CallerFrame, NlpInbox, RealtimeInbox, SupervisorInbox
from .redact import mask_phone_numbers
from .runtime_lines import VoiceLines
from .session_row import SessionRow
from .text_safety import escape_for_log
from .trace import Trace

if TYPE_CHECKING:
    from store import Store

logger = logging.getLogger("callrt.call")
LOG_LINE_LIMIT = 1000


@attrs.frozen
class CallMailboxes:
    """The call's mailboxes, one per receiving actor (the AudioActor has two)."""

    audio_frames: Mailbox[CallerFrame]
    audio: Mailbox[AudioControl]
    realtime: Mailbox[RealtimeInbox]
    nlp: Mailbox[NlpInbox]
    booking: Mailbox[BookingInbox]
    supervisor: Mailbox[SupervisorInbox]

    @classmethod
    def create(cls, trace: Trace, config: CallConfig) -> CallMailboxes:
        return cls(
            audio_frames=Mailbox("audio.frames", "audio", trace, capacity=config.audio_mailbox_capacity),
            audio=Mailbox("audio.control", "audio", trace),
            realtime=Mailbox("realtime", "realtime", trace),
            nlp=Mailbox("nlp", "nlp", trace),
            booking=Mailbox("booking", "booking", trace),
            supervisor=Mailbox("supervisor", "supervisor", trace),
        )

    def all(self) -> tuple[Mailbox[Any], ...]:
        return (self.audio_frames, self.audio, self.realtime, self.nlp, self.booking, self.supervisor)

    def close_all(self) -> None:
        for mailbox in self.all():
            mailbox.close()


@attrs.frozen
class CallContext:
    """Identity and shared services of one call. Immutable; actors keep their own state."""

    call_sid: str
    business_id: int
    caller_phone: str | None
    language: Language
    config: CallConfig
    trace: Trace
    gateway: StoreGateway
    store: Store
    now: Callable[[], dt.datetime]
    """Wall-clock 'now' (timezone-aware) for booking decisions; injectable for tests and scenarios."""
    mailboxes: CallMailboxes
    instances: collections.Counter[str] = attrs.field(factory=collections.Counter, eq=False)
    """How many instances of each actor this call has created: 2 and more means restarts."""
    callbacks: CallbackOutbox = attrs.field(factory=CallbackOutbox, eq=False)
    """Callback requests promised to the caller and not stored yet (`callback_writer`)."""
    session: SessionRow = attrs.field(factory=SessionRow, eq=False)
    """Whether the call's session row exists yet: turns and the session's end wait for it (`session_row`)."""
    voice_lines: VoiceLines = attrs.field(factory=VoiceLines, eq=False)
    """The business's audio for the runtime's own lines, loaded as the call starts (packaged until then)."""
    known_conversation: KnownConversation = attrs.field(factory=KnownConversation, eq=False)
    """What the call's last RealtimeActor knew when it stopped: its successor's fallback while the store is down."""
    ai_items_taken: set[str] = attrs.field(factory=set, eq=False)
    """AI items an AudioActor instance has taken audio of: after a restart, the rest of these is never
    played from the middle, and an item no instance took yet is played whole."""

    def new_instance(self, actor: str) -> int:
        """Count a new instance of `actor` in this call; returns its number (1 for the first)."""
        self.instances[actor] += 1
        return self.instances[actor]

    def log(self, actor: str, line: str) -> None:
        """A human-readable call-log line (the spec's `[TURN] …`, `[GUARD] …`), traced and logged; the log
        line escaped and bounded, since names and words in it are the caller's."""
        self.trace.record("log", actor=actor, msg=line)
        logger.info(
            "%s %s: %s",
            escape_for_log(self.call_sid, 64),
            actor,
            escape_for_log(mask_phone_numbers(line), LOG_LINE_LIMIT),
        )
