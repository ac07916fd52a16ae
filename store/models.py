"""SQLAlchemy models: the tables of the store (the schema itself is created by Alembic migrations).

`appointment_claims` is the no-double-booking guarantee: every active appointment claims one
`(business, minute, seat)` row per minute it covers, with `seat < capacity`, under a primary key.
Two transactions that would overbook any minute collide on that key, on SQLite and PostgreSQL alike,
whatever code path wrote them (see docs/booking-rules.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ACTIVE = "booked"
CANCELLED = "cancelled"


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """An aware instant, stored in UTC (SQLite has no time zones: naive UTC there), read back aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: attach a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Jerusalem")
    working_hours: Mapped[Any | None] = mapped_column(sa.JSON, nullable=True)
    language: Mapped[str] = mapped_column(sa.String(8), default="he", server_default="he")
    """`he` or `en`: the language of the prompt, the transcription hint and the booking NLP."""
    greeting_name: Mapped[str | None] = mapped_column(sa.String(200))
    """What the AI calls the business on the phone (default: its name)."""
    realtime_model: Mapped[str | None] = mapped_column(sa.String(100))
    """The Realtime model of this business's calls (default: the server's, `CALLRT_OPENAI_MODEL`)."""
    transcription_model: Mapped[str | None] = mapped_column(sa.String(100))
    """The caller's speech is transcribed by it (default: the server's, `CALLRT_TRANSCRIPTION_MODEL`)."""


class AppointmentSettings(Base):
    __tablename__ = "appointment_settings"

    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    opening_hours_json: Mapped[Any | None] = mapped_column(sa.JSON, nullable=True)
    slot_size_min: Mapped[int] = mapped_column(default=30)
    min_notice_min: Mapped[int] = mapped_column(default=60)
    horizon_days: Mapped[int] = mapped_column(default=60)
    capacity: Mapped[int] = mapped_column(default=1)
    special_days_json: Mapped[Any | None] = mapped_column(sa.JSON, nullable=True)
    """Dates whose hours differ from their weekday's: `{"YYYY-MM-DD": [ranges]}`, `[]` = closed (holidays)."""


class BusinessPhone(Base):
    """A number Twilio says was called (`To`): the business it reaches. One business per number."""

    __tablename__ = "business_phones"

    phone: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"), index=True)


class ConsoleUser(Base):
    """A person who may log in to the business console; `business_id` None means every business."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    business_id: Mapped[int | None] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ServerSecret(Base):
    """Secrets every process of a deployment must share (the console's session key), made once."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255))


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (sa.UniqueConstraint("business_id", "phone", name="uq_leads_business_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(32), default="new")
    last_call_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    notes: Mapped[str | None] = mapped_column(sa.Text)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        sa.Index("ix_appointments_business_start", "business_id", "start_at"),
        # One active appointment per call: the idempotency of a call's booking requests.
        sa.Index(
            "uq_appointments_active_call",
            "call_sid",
            unique=True,
            sqlite_where=sa.text("status = 'booked' AND call_sid IS NOT NULL"),
            postgresql_where=sa.text("status = 'booked' AND call_sid IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("leads.id", ondelete="SET NULL"))
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), default=ACTIVE)
    source: Mapped[str] = mapped_column(sa.String(16), default="phone")
    call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    cancel_call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    """The call that cancelled it: a repeated cancel from that call is recognised as a duplicate."""

    @property
    def minutes(self) -> int:
        return int((self.end_at - self.start_at).total_seconds() // 60)


class AppointmentClaim(Base):
    __tablename__ = "appointment_claims"

    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    """Minutes since the Unix epoch (UTC)."""
    seat: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    appointment_id: Mapped[int] = mapped_column(sa.ForeignKey("appointments.id", ondelete="CASCADE"), index=True)


class CallSession(Base):
    __tablename__ = "call_sessions"
    __table_args__ = (sa.Index("ix_call_sessions_business_started", "business_id", "started_at"),)

    call_sid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("leads.id", ondelete="SET NULL"))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(64))
    appointment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("appointments.id", ondelete="SET NULL"))
    silence_prompt_used: Mapped[bool] = mapped_column(default=False)


class CallTurn(Base):
    __tablename__ = "call_turns"
    __table_args__ = (sa.UniqueConstraint("call_sid", "seq", name="uq_call_turns_call_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(sa.ForeignKey("call_sessions.call_sid", ondelete="CASCADE"))
    seq: Mapped[int]
    role: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class CallbackRequest(Base):
    """A promise, made to a caller, that a person of the business will call back."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    call_sid: Mapped[str | None] = mapped_column(sa.String(64))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    name: Mapped[str | None] = mapped_column(sa.String(200))
    request: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class VoiceLine(Base):
    """The audio of one of the runtime's own lines for a business: uploaded by it, or what the model said.

    `voice` is the model's voice the audio was captured in; an uploaded recording has `""` (any voice)."""

    __tablename__ = "voice_lines"

    business_id: Mapped[int] = mapped_column(sa.ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    language: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    voice: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    audio: Mapped[bytes] = mapped_column(sa.LargeBinary)
    """mu-law 8 kHz mono, no header."""
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class StreamToken(Base):
    """A media stream the server accepted: one per CallSid, ever, whichever process accepted it."""

    __tablename__ = "stream_tokens"

    call_sid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
