"""Call sessions and transcripts: the durable per-call state a restarted actor reloads."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .errors import StoreError
from .leads import ensure_lead
from .models import Business, CallSession, CallTurn
from .records import CallState

ROLES = ("user", "assistant", "server")


def _session_row(session: Session, call_sid: str, *, lock: bool = False) -> CallSession:
    query = sa.select(CallSession).where(CallSession.call_sid == call_sid)
    row = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise StoreError(f"no call session {call_sid!r}: start_call_session first")
    return row


def start_call_session(session: Session, call_sid: str, business_id: int, phone: str | None) -> None:
    """Open the session once; repeated calls (a restarted actor, a reconnect) change nothing."""
    if session.get(Business, business_id) is None:
        raise StoreError(f"no business with id {business_id}")
    lead_id = ensure_lead(session, business_id, phone) if phone else None
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(CallSession)
        .values(
            call_sid=call_sid,
            business_id=business_id,
            lead_id=lead_id,
            phone=phone,
            started_at=dt.datetime.now(dt.UTC),
            silence_prompt_used=False,
        )
        .on_conflict_do_nothing(index_elements=["call_sid"])
    )


def end_call_session(session: Session, call_sid: str, outcome: str) -> None:
    row = _session_row(session, call_sid)
    row.ended_at = dt.datetime.now(dt.UTC)
    row.outcome = outcome


def record_turn(session: Session, call_sid: str, role: str, text: str) -> int:
    """Append one turn; returns its sequence number (1, 2, …) in the call."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    # Locking the session row orders concurrent writers of one call on PostgreSQL (SQLite: BEGIN IMMEDIATE).
    _session_row(session, call_sid, lock=True)
    last = session.scalar(sa.select(sa.func.max(CallTurn.seq)).where(CallTurn.call_sid == call_sid))
    seq = (last or 0) + 1
    session.add(CallTurn(call_sid=call_sid, seq=seq, role=role, text=text, at=dt.datetime.now(dt.UTC)))
    session.flush()
    return seq


def set_turn_text(session: Session, call_sid: str, seq: int, text: str) -> None:
    """Fill in a turn recorded earlier (a caller's placeholder, once the transcript arrives)."""
    result = session.execute(
        sa.update(CallTurn).where(CallTurn.call_sid == call_sid, CallTurn.seq == seq).values(text=text)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise StoreError(f"no turn {seq} in call {call_sid!r}")


def load_call_state(session: Session, call_sid: str) -> CallState:
    """The call's transcript and flags; an unknown call has an empty state."""
    row = session.get(CallSession, call_sid)
    if row is None:
        return CallState(turns=[], silence_prompt_used=False, appointment_id=None)
    turns = session.execute(
        sa.select(CallTurn.role, CallTurn.text).where(CallTurn.call_sid == call_sid).order_by(CallTurn.seq)
    ).all()
    return CallState(
        turns=[(role, text) for role, text in turns],
        silence_prompt_used=row.silence_prompt_used,
        appointment_id=row.appointment_id,
    )


def mark_silence_prompt_used(session: Session, call_sid: str) -> bool:
    """True only for the first caller: a conditional UPDATE is atomic on both databases."""
    _session_row(session, call_sid)
    result = session.execute(
        sa.update(CallSession)
        .where(CallSession.call_sid == call_sid, CallSession.silence_prompt_used.is_(False))
        .values(silence_prompt_used=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def link_appointment(session: Session, call_sid: str | None, appointment_id: int | None) -> None:
    """Point the call's session at its current appointment (no-op for a call without a session)."""
    if call_sid is not None:
        session.execute(
            sa.update(CallSession).where(CallSession.call_sid == call_sid).values(appointment_id=appointment_id)
        )
