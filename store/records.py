"""Plain, immutable values the store hands out: no SQLAlchemy objects escape the store."""

from __future__ import annotations

import datetime as dt

import attrs

OpeningHours = dict[str, list[tuple[str, str]]]
"""Weekday key (`sun` … `sat`) → ordered, non-overlapping `("HH:MM", "HH:MM")` ranges; `[]` = closed."""
SpecialDays = dict[str, list[tuple[str, str]]]
"""ISO date (`YYYY-MM-DD`) → that date's ranges, replacing its weekday's; `[]` = closed (a holiday)."""


@attrs.frozen
class BusinessSettings:
    """A business's booking rules, with opening hours already normalised (after the `working_hours` fallback)."""

    id: int
    name: str
    timezone: str
    opening_hours: OpeningHours
    slot_size_min: int
    min_notice_min: int
    horizon_days: int
    capacity: int
    special_days: SpecialDays = attrs.field(factory=dict)
    language: str = "he"
    """`he` or `en`: the prompt's, the transcription hint's and the booking NLP's language."""
    greeting_name: str | None = None
    """What the AI calls the business on the phone; None: its name."""
    realtime_model: str | None = None
    """The Realtime model of its calls; None: the server's (`CALLRT_OPENAI_MODEL`)."""
    transcription_model: str | None = None
    """The model transcribing its callers; None: the server's (`CALLRT_TRANSCRIPTION_MODEL`)."""

    @property
    def spoken_name(self) -> str:
        return self.greeting_name or self.name


@attrs.frozen
class VoiceLineAudio:
    """The audio of one of the runtime's own lines, as a business has it (store.voice_lines)."""

    line: str
    language: str
    source: str
    """`uploaded` (the business's recording) or `model` (what the model said the first time)."""
    voice: str
    """The model voice it was captured in; `""` for an upload (any voice)."""
    audio: bytes
    """mu-law 8 kHz mono, no header."""


@attrs.frozen
class BusinessSummary:
    """A business as the console and `callrt business list` show it."""

    id: int
    name: str
    language: str
    timezone: str
    phones: tuple[str, ...]


@attrs.frozen
class ConsoleUserInfo:
    """A console login; `business_id` None: the user may see every business."""

    id: int
    username: str
    password_hash: str
    business_id: int | None


@attrs.frozen
class CallSummary:
    """One call as the console lists it, with its conversation (turns in order)."""

    call_sid: str
    business_id: int
    phone: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str | None
    appointment_id: int | None
    turns: tuple[tuple[str, str], ...]


@attrs.frozen
class SlotCheck:
    """Whether a start can be booked; `reason` is one of `availability.REASONS` when it cannot."""

    ok: bool
    reason: str | None


@attrs.frozen
class BookingOutcome:
    """What a booking operation did.

    `created` is true when this call changed the database (a new, moved or cancelled appointment);
    `duplicate` when the same request had already been applied (nothing changed, same appointment);
    `moved` when an existing appointment got a new start. `reason` says why nothing was done.
    """

    created: bool
    duplicate: bool
    appointment_id: int | None
    start: dt.datetime | None
    minutes: int
    reason: str | None
    alternatives: list[dt.datetime]
    moved: bool = False


@attrs.frozen
class CallState:
    """The durable part of a call, reloaded by a restarted actor."""

    turns: list[tuple[str, str]]
    silence_prompt_used: bool
    appointment_id: int | None


@attrs.frozen
class AppointmentInfo:
    id: int
    start: dt.datetime
    """Timezone-aware, in the business's time zone."""
    minutes: int
    name: str | None
    phone: str | None
    call_sid: str | None
    status: str
    cancel_call_sid: str | None = None
    """The call that cancelled it, if a call did."""


@attrs.frozen
class CallbackInfo:
    """A callback request: who to call, what they asked for and why the call could not serve it."""

    id: int
    business_id: int
    call_sid: str | None
    phone: str | None
    name: str | None
    request: str
    reason: str
    created_at: dt.datetime
    done_at: dt.datetime | None
