"""Call sessions and transcripts: the durable per-call state a restarted actor reloads."""

from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .errors import StoreError
from .leads import ensure_lead
from .models import Business, CallSession, CallTurn
from .records import CallState, CallSummary

ROLES = ("user", "assistant", "server")


def _session_row(session: Session, call_sid: str) -> CallSession:
    row = session.scalars(sa.select(CallSession).where(CallSession.call_sid == call_sid)).one_or_none()
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


def close_open_sessions(session: Session, business_ids: list[int], outcome: str, before: dt.datetime) -> int:
    """End every session of these businesses started before `before` and never ended; how many."""
    result = session.execute(
        sa.update(CallSession)
        .where(
            CallSession.business_id.in_(business_ids),
            CallSession.ended_at.is_(None),
            CallSession.started_at < before,
        )
        .values(ended_at=dt.datetime.now(dt.UTC), outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Turns are written several times a second per busy process: their statements are built once, with bound
# parameters. Building an ORM unit of work per turn cost four times the database's own work (docs/performance.md).
_SESSIONS = cast(sa.Table, CallSession.__table__)
_TURNS = cast(sa.Table, CallTurn.__table__)
_LOCK_SESSION = (
    sa.select(_SESSIONS.c.call_sid).where(_SESSIONS.c.call_sid == sa.bindparam("call_sid")).with_for_update()
)
_APPEND_TURN = (
    sa.insert(_TURNS)
    .from_select(
        ["call_sid", "seq", "role", "text", "at"],
        sa.select(
            sa.bindparam("call_sid"),
            sa.func.coalesce(sa.func.max(_TURNS.c.seq), 0) + 1,
            sa.bindparam("role"),
            sa.bindparam("text"),
            sa.bindparam("at", type_=_TURNS.c.at.type),
        ).where(_TURNS.c.call_sid == sa.bindparam("call_sid")),
    )
    .returning(_TURNS.c.seq)
)
_FILL_TURN = (
    sa.update(_TURNS)
    .where(_TURNS.c.call_sid == sa.bindparam("of_call"), _TURNS.c.seq == sa.bindparam("of_seq"))
    .values(text=sa.bindparam("new_text"))
)


def _storable(text: str) -> str:
    """A turn's words as every database keeps them: PostgreSQL's text refuses NUL, which a transcript
    (the model's, hence a peer's) may carry; it becomes U+FFFD, as undecodable bytes do on the wire."""
    return text.replace("\x00", "\ufffd")


def record_turn(connection: sa.Connection, call_sid: str, role: str, text: str) -> int:
    """Append one turn; returns its sequence number (1, 2, …) in the call."""
    text = _storable(text)
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    # Locking the session row orders concurrent writers of one call on PostgreSQL (SQLite: BEGIN IMMEDIATE).
    if connection.execute(_LOCK_SESSION, {"call_sid": call_sid}).first() is None:
        raise StoreError(f"no call session {call_sid!r}: start_call_session first")
    appended = connection.execute(
        _APPEND_TURN, {"call_sid": call_sid, "role": role, "text": text, "at": dt.datetime.now(dt.UTC)}
    )
    seq: int = appended.scalar_one()
    return seq


def set_turn_text(connection: sa.Connection, call_sid: str, seq: int, text: str) -> None:
    """Fill in a turn recorded earlier (a caller's placeholder, once the transcript arrives)."""
    result = connection.execute(_FILL_TURN, {"of_call": call_sid, "of_seq": seq, "new_text": _storable(text)})
    if not result.rowcount:
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


def list_calls(session: Session, business_id: int, *, offset: int, limit: int) -> tuple[list[CallSummary], int]:
    """A page of the business's calls, newest first, each with its conversation; and how many calls there are."""
    total = session.scalar(
        sa.select(sa.func.count()).select_from(CallSession).where(CallSession.business_id == business_id)
    )
    rows = list(
        session.scalars(
            sa.select(CallSession)
            .where(CallSession.business_id == business_id)
            .order_by(CallSession.started_at.desc(), CallSession.call_sid)
            .offset(offset)
            .limit(limit)
        )
    )
    turns: dict[str, list[tuple[str, str]]] = {row.call_sid: [] for row in rows}
    if rows:
        for call_sid, role, text in session.execute(
            sa.select(CallTurn.call_sid, CallTurn.role, CallTurn.text)
            .where(CallTurn.call_sid.in_(turns))
            .order_by(CallTurn.call_sid, CallTurn.seq)
        ):
            turns[call_sid].append((role, text))
    calls = [
        CallSummary(
            call_sid=row.call_sid,
            business_id=row.business_id,
            phone=row.phone,
            started_at=row.started_at,
            ended_at=row.ended_at,
            outcome=row.outcome,
            appointment_id=row.appointment_id,
            turns=tuple(turns[row.call_sid]),
        )
        for row in rows
    ]
    return calls, int(total or 0)


def business_of_call(session: Session, call_sid: str) -> int | None:
    return session.scalar(sa.select(CallSession.business_id).where(CallSession.call_sid == call_sid))
