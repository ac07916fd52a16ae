"""Booking transactions: create (idempotent per call), move, cancel, import, list.

Each function runs inside one transaction given by the caller (`Transactions.write`). The rules
themselves live in `availability`; this module reads the busy intervals, applies the decision, and
writes the slot claims that make an overbooking impossible to commit (see `models.AppointmentClaim`).
"""

from __future__ import annotations

import datetime as dt
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import availability
from .businesses import listing_timezone, load_settings
from .calls import link_appointment
from .engine import Executor, LostRace
from .errors import StoreError
from .leads import ensure_lead
from .models import ACTIVE, CANCELLED, Appointment, AppointmentClaim, Lead
from .records import AppointmentInfo, BookingOutcome, BusinessSettings

UTC = dt.UTC


def _epoch_minute(instant: dt.datetime) -> int:
    return int(instant.timestamp()) // 60


_APPOINTMENTS = cast(sa.Table, Appointment.__table__)
# Every slot check and offer reads these (several a second in a busy process): built once, with bound parameters.
_BUSY = sa.select(_APPOINTMENTS.c.start_at, _APPOINTMENTS.c.end_at).where(
    _APPOINTMENTS.c.business_id == sa.bindparam("business_id"),
    _APPOINTMENTS.c.status == ACTIVE,
    _APPOINTMENTS.c.end_at > sa.bindparam("since", type_=_APPOINTMENTS.c.end_at.type),
    _APPOINTMENTS.c.start_at < sa.bindparam("until", type_=_APPOINTMENTS.c.start_at.type),
)
_BUSY_BUT_ONE = _BUSY.where(_APPOINTMENTS.c.id != sa.bindparam("exclude"))


def busy_intervals(
    session: Executor, settings: BusinessSettings, now: dt.datetime, exclude: int | None = None
) -> list[availability.Interval]:
    """Active appointments that can collide with a bookable slot (from now to just past the horizon)."""
    params = {"business_id": settings.id, "since": now, "until": now + dt.timedelta(days=settings.horizon_days + 2)}
    if exclude is None:
        rows = session.execute(_BUSY, params)
    else:
        rows = session.execute(_BUSY_BUT_ONE, {**params, "exclude": exclude})
    return [(start, end) for start, end in rows]


def _claim(session: Session, appointment: Appointment, capacity: int) -> None:
    """Claim a free seat for every minute the appointment covers; a full minute means we lost a race."""
    first, last = _epoch_minute(appointment.start_at), _epoch_minute(appointment.end_at)
    taken: dict[int, set[int]] = {}
    for minute, seat in session.execute(
        sa.select(AppointmentClaim.minute, AppointmentClaim.seat).where(
            AppointmentClaim.business_id == appointment.business_id,
            AppointmentClaim.minute >= first,
            AppointmentClaim.minute < last,
        )
    ).all():
        taken.setdefault(minute, set()).add(seat)
    rows = []
    for minute in range(first, last):
        free = next((seat for seat in range(capacity) if seat not in taken.get(minute, ())), None)
        if free is None:
            raise LostRace(f"minute {minute} of business {appointment.business_id} filled concurrently")
        rows.append(
            {"business_id": appointment.business_id, "minute": minute, "seat": free, "appointment_id": appointment.id}
        )
    session.execute(sa.insert(AppointmentClaim), rows)


def _release(session: Session, appointment_id: int) -> None:
    session.execute(sa.delete(AppointmentClaim).where(AppointmentClaim.appointment_id == appointment_id))


def _local(instant: dt.datetime, settings: BusinessSettings) -> dt.datetime:
    return instant.astimezone(ZoneInfo(settings.timezone))


def _done(
    settings: BusinessSettings, appointment: Appointment, *, duplicate: bool = False, moved: bool = False
) -> BookingOutcome:
    return BookingOutcome(
        created=not duplicate,
        duplicate=duplicate,
        appointment_id=appointment.id,
        start=_local(appointment.start_at, settings),
        minutes=appointment.minutes,
        reason=None,
        alternatives=[],
        moved=moved,
    )


def _refused(
    settings: BusinessSettings, start: dt.datetime | None, reason: str, alternatives: list[dt.datetime]
) -> BookingOutcome:
    return BookingOutcome(
        created=False,
        duplicate=False,
        appointment_id=None,
        start=None if start is None else _local(start, settings),
        minutes=settings.slot_size_min,
        reason=reason,
        alternatives=alternatives,
    )


def _active_of_call(session: Session, business_id: int, call_sid: str) -> Appointment | None:
    return session.scalars(
        sa.select(Appointment)
        .where(Appointment.business_id == business_id, Appointment.call_sid == call_sid, Appointment.status == ACTIVE)
        .with_for_update()
    ).one_or_none()


def _next_of_phone(session: Session, business_id: int, phone: str, now: dt.datetime) -> Appointment | None:
    return session.scalars(
        sa.select(Appointment)
        .where(
            Appointment.business_id == business_id,
            Appointment.phone == phone,
            Appointment.status == ACTIVE,
            Appointment.start_at >= now,
        )
        .order_by(Appointment.start_at)
        .limit(1)
        .with_for_update()
    ).one_or_none()


def _move_or_refuse(
    session: Session, settings: BusinessSettings, appointment: Appointment, start: dt.datetime, now: dt.datetime
) -> BookingOutcome:
    busy = busy_intervals(session, settings, now, exclude=appointment.id)
    check = availability.check_slot(settings, busy, start, now)
    if not check.ok:
        assert check.reason is not None
        return _refused(settings, start, check.reason, availability.alternatives(settings, busy, start, now))
    _release(session, appointment.id)
    appointment.start_at = start.astimezone(UTC)
    appointment.end_at = appointment.start_at + dt.timedelta(minutes=settings.slot_size_min)
    session.flush()
    _claim(session, appointment, settings.capacity)
    return _done(settings, appointment, moved=True)


def create_from_call(
    session: Session,
    *,
    business_id: int,
    call_sid: str,
    start: dt.datetime,
    name: str | None,
    phone: str | None,
    now: dt.datetime,
) -> BookingOutcome:
    """Book `start` for this call. The same request again is a duplicate; a different start moves
    the call's appointment (the caller's latest statement wins)."""
    settings = load_settings(session, business_id)
    existing = _active_of_call(session, business_id, call_sid)
    if existing is not None:
        if existing.start_at == start.astimezone(UTC):
            return _done(settings, existing, duplicate=True)
        return _move_or_refuse(session, settings, existing, start, now)
    busy = busy_intervals(session, settings, now)
    check = availability.check_slot(settings, busy, start, now)
    if not check.ok:
        assert check.reason is not None
        if check.reason == "taken" and _active_of_call(session, business_id, call_sid) is not None:
            # On PostgreSQL each statement sees the latest commits: a twin request of this call
            # committed between our two reads and is what "took" the slot. Start over to see it.
            raise LostRace(f"call {call_sid} booked concurrently")
        return _refused(settings, start, check.reason, availability.alternatives(settings, busy, start, now))
    lead_id = ensure_lead(session, business_id, phone, name) if phone else None
    start_at = start.astimezone(UTC)
    appointment = Appointment(
        business_id=business_id,
        lead_id=lead_id,
        start_at=start_at,
        end_at=start_at + dt.timedelta(minutes=settings.slot_size_min),
        status=ACTIVE,
        source="phone",
        call_sid=call_sid,
        name=name,
        phone=phone,
    )
    session.add(appointment)
    session.flush()
    _claim(session, appointment, settings.capacity)
    if lead_id is not None:
        session.get_one(Lead, lead_id).status = "booked"
    link_appointment(session, call_sid, appointment.id)
    return _done(settings, appointment)


def reschedule(
    session: Session, *, business_id: int, call_sid: str, phone: str | None, new_start: dt.datetime, now: dt.datetime
) -> BookingOutcome:
    """Move this call's appointment, or else the next upcoming one of `phone`, which must be the verified
    caller line (never a number said aloud: see actors.caller_identity)."""
    settings = load_settings(session, business_id)
    target = _active_of_call(session, business_id, call_sid)
    if target is None and phone:
        already = session.scalars(
            sa.select(Appointment).where(
                Appointment.business_id == business_id,
                Appointment.phone == phone,
                Appointment.status == ACTIVE,
                Appointment.start_at == new_start.astimezone(UTC),
            )
        ).first()
        if already is not None:
            return _done(settings, already, duplicate=True)
        target = _next_of_phone(session, business_id, phone, now)
    if target is None:
        return _refused(settings, new_start, "no_appointment", [])
    if target.start_at == new_start.astimezone(UTC):
        return _done(settings, target, duplicate=True)
    outcome = _move_or_refuse(session, settings, target, new_start, now)
    if outcome.created:
        link_appointment(session, call_sid, target.id)
    return outcome


def cancel(session: Session, *, business_id: int, call_sid: str, phone: str | None, now: dt.datetime) -> BookingOutcome:
    """Cancel this call's appointment, or else the next upcoming one of `phone` (the verified caller line);
    repeating it is a duplicate."""
    settings = load_settings(session, business_id)
    target = _active_of_call(session, business_id, call_sid)
    if target is None:
        cancelled = session.scalars(
            sa.select(Appointment).where(
                Appointment.business_id == business_id, Appointment.cancel_call_sid == call_sid
            )
        ).first()
        if cancelled is not None:
            return _done(settings, cancelled, duplicate=True)
        if phone:
            target = _next_of_phone(session, business_id, phone, now)
    if target is None:
        return _refused(settings, None, "no_appointment", [])
    _cancel(session, target, call_sid)
    link_appointment(session, call_sid, None)
    return _done(settings, target)


def _cancel(session: Session, target: Appointment, call_sid: str | None) -> None:
    target.status = CANCELLED
    target.cancel_call_sid = call_sid
    _release(session, target.id)
    if target.lead_id is not None:
        session.get_one(Lead, target.lead_id).status = "cancelled"


def _active_by_id(session: Session, business_id: int, appointment_id: int) -> Appointment | None:
    return session.scalars(
        sa.select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.business_id == business_id, Appointment.status == ACTIVE)
        .with_for_update()
    ).one_or_none()


def cancel_by_id(session: Session, *, business_id: int, appointment_id: int) -> BookingOutcome:
    """Cancel one appointment of this business (the console's cancel): its slot is free at once."""
    settings = load_settings(session, business_id)
    target = _active_by_id(session, business_id, appointment_id)
    if target is None:
        return _refused(settings, None, "no_appointment", [])
    _cancel(session, target, None)
    return _done(settings, target)


def move_by_id(
    session: Session, *, business_id: int, appointment_id: int, new_start: dt.datetime, now: dt.datetime
) -> BookingOutcome:
    """Move one appointment of this business (the console's move) by the rules a caller's move follows."""
    settings = load_settings(session, business_id)
    target = _active_by_id(session, business_id, appointment_id)
    if target is None:
        return _refused(settings, None, "no_appointment", [])
    if target.start_at == new_start.astimezone(UTC):
        return _done(settings, target, duplicate=True)
    return _move_or_refuse(session, settings, target, new_start, now)


def add_existing(
    session: Session, business_id: int, start: dt.datetime, minutes: int, name: str | None, phone: str | None
) -> int:
    """Import an appointment made elsewhere (no hours rules), still never beyond capacity."""
    settings = load_settings(session, business_id)
    if start.second or start.microsecond or minutes < 1:
        raise ValueError("an appointment starts on a whole minute and lasts at least one minute")
    start_at = start.astimezone(UTC)
    appointment = Appointment(
        business_id=business_id,
        lead_id=ensure_lead(session, business_id, phone, name) if phone else None,
        start_at=start_at,
        end_at=start_at + dt.timedelta(minutes=minutes),
        status=ACTIVE,
        source="import",
        name=name,
        phone=phone,
    )
    session.add(appointment)
    session.flush()
    busy = busy_intervals(session, settings, start_at, exclude=appointment.id)
    if availability.max_overlap(busy, appointment.start_at, appointment.end_at) >= settings.capacity:
        raise StoreError(f"{start.isoformat()} for {minutes} min overlaps existing appointments beyond capacity")
    _claim(session, appointment, settings.capacity)
    return appointment.id


def list_appointments(
    session: Session,
    business_id: int,
    *,
    call_sid: str | None,
    active_only: bool,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    search: str | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> list[AppointmentInfo]:
    """Starting in `[since, until)` when given; `search` matches a part of the name or phone."""
    zone = listing_timezone(session, business_id)
    order = (
        (Appointment.start_at.desc(), Appointment.id.desc()) if newest_first else (Appointment.start_at, Appointment.id)
    )
    query = sa.select(Appointment).where(Appointment.business_id == business_id).order_by(*order).limit(limit)
    if call_sid is not None:
        query = query.where(Appointment.call_sid == call_sid)
    if active_only:
        query = query.where(Appointment.status == ACTIVE)
    if since is not None:
        query = query.where(Appointment.start_at >= since)
    if until is not None:
        query = query.where(Appointment.start_at < until)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(Appointment.name.ilike(pattern, escape="\\"), Appointment.phone.ilike(pattern, escape="\\"))
        )
    return [
        AppointmentInfo(
            id=row.id,
            start=row.start_at.astimezone(zone),
            minutes=row.minutes,
            name=row.name,
            phone=row.phone,
            call_sid=row.call_sid,
            status=row.status,
            cancel_call_sid=row.cancel_call_sid,
        )
        for row in session.scalars(query)
    ]
