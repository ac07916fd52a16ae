"""Businesses and their appointment settings: validated on save (store.settings), read back as
`BusinessSettings`; the Twilio numbers that reach each business."""

from __future__ import annotations

from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import settings as rules
from . import voice_lines
from .engine import Executor
from .errors import BrokenSettings, InvalidHours, StoreError
from .hours import effective_hours, parse_special_days
from .models import AppointmentSettings, Business, BusinessPhone
from .records import BusinessSettings, BusinessSummary

_BUSINESS_FIELDS = ("name", "timezone", "language", "greeting_name", "realtime_model", "transcription_model")
_SETTINGS_FIELDS = {
    "opening_hours": "opening_hours_json",
    "special_days": "special_days_json",
    "slot_size_min": "slot_size_min",
    "min_notice_min": "min_notice_min",
    "horizon_days": "horizon_days",
    "capacity": "capacity",
}


def create_business(
    session: Session,
    *,
    name: str,
    timezone: str,
    opening_hours: Any,
    working_hours: Any,
    slot_size_min: int,
    min_notice_min: int,
    horizon_days: int,
    capacity: int,
    language: str = "he",
    greeting_name: str | None = None,
    special_days: Any = None,
    phones: list[str] | None = None,
) -> int:
    """Validate everything (hours → `InvalidHours`, the rest → `InvalidSettings`) and save the business."""
    effective_hours(opening_hours, working_hours)
    values = rules.validate(
        {
            "name": name,
            "timezone": timezone,
            "language": language,
            "greeting_name": greeting_name,
            "special_days": special_days,
            "slot_size_min": slot_size_min,
            "min_notice_min": min_notice_min,
            "horizon_days": horizon_days,
            "capacity": capacity,
            "phones": phones or [],
        }
    )
    business = Business(
        name=values["name"],
        timezone=timezone,
        working_hours=working_hours,
        language=language,
        greeting_name=values["greeting_name"],
    )
    session.add(business)
    session.flush()
    session.add(
        AppointmentSettings(
            business_id=business.id,
            opening_hours_json=opening_hours,
            special_days_json=special_days,
            slot_size_min=values["slot_size_min"],
            min_notice_min=values["min_notice_min"],
            horizon_days=values["horizon_days"],
            capacity=values["capacity"],
        )
    )
    _set_phones(session, business.id, values["phones"])
    return business.id


def update_business(session: Session, business_id: int, changes: dict[str, Any]) -> None:
    """Apply `changes` (fields of `store.settings.VALIDATORS`) all or nothing: any bad field raises
    `InvalidSettings` naming every bad field, and nothing is written."""
    business = session.get(Business, business_id)
    appointment_settings = session.get(AppointmentSettings, business_id)
    if business is None or appointment_settings is None:
        raise StoreError(f"no business with id {business_id}")
    values = rules.validate(changes)
    if "opening_hours" in values:
        try:
            effective_hours(values["opening_hours"], business.working_hours)
        except ValueError as exc:
            raise rules.InvalidSettings({"opening_hours": str(exc)}) from None
    if "phones" in values:
        _set_phones(session, business_id, values["phones"])
    spoken_before = business.greeting_name or business.name
    for field in _BUSINESS_FIELDS:
        if field in values:
            setattr(business, field, values[field])
    for field, column in _SETTINGS_FIELDS.items():
        if field in values:
            setattr(appointment_settings, column, values[field])
    if (business.greeting_name or business.name) != spoken_before:
        voice_lines.forget_named_lines(session, business_id)


def _numbers_of_others(session: Session, business_id: int, phones: list[str]) -> list[str]:
    if not phones:
        return []
    return list(
        session.scalars(
            sa.select(BusinessPhone.phone).where(
                BusinessPhone.phone.in_(phones), BusinessPhone.business_id != business_id
            )
        )
    )


def _set_phones(session: Session, business_id: int, phones: list[str]) -> None:
    taken = _numbers_of_others(session, business_id, phones)
    if taken:
        raise rules.InvalidSettings({"phones": f"already reaches another business: {', '.join(taken)}"})
    session.execute(sa.delete(BusinessPhone).where(BusinessPhone.business_id == business_id))
    session.add_all(BusinessPhone(phone=phone, business_id=business_id) for phone in phones)
    session.flush()


def business_for_number(session: Session, phone: str) -> int | None:
    return session.scalar(sa.select(BusinessPhone.business_id).where(BusinessPhone.phone == phone.strip()))


def phones_of(session: Session, business_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(BusinessPhone.phone).where(BusinessPhone.business_id == business_id).order_by(BusinessPhone.phone)
        )
    )


def summaries(session: Session) -> list[BusinessSummary]:
    phones: dict[int, list[str]] = {}
    for phone, owner in session.execute(sa.select(BusinessPhone.phone, BusinessPhone.business_id)):
        phones.setdefault(owner, []).append(phone)
    return [
        BusinessSummary(
            id=row.id,
            name=row.name,
            language=row.language,
            timezone=row.timezone,
            phones=tuple(sorted(phones.get(row.id, []))),
        )
        for row in session.scalars(sa.select(Business).order_by(Business.id))
    ]


def stored_settings(session: Session, business_id: int) -> dict[str, Any]:
    """The settings as saved (hours not normalised), for an editor to show what is there."""
    business = session.get(Business, business_id)
    appointment_settings = session.get(AppointmentSettings, business_id)
    if business is None or appointment_settings is None:
        raise StoreError(f"no business with id {business_id}")
    return {
        "name": business.name,
        "greeting_name": business.greeting_name,
        "timezone": business.timezone,
        "language": business.language,
        "opening_hours": appointment_settings.opening_hours_json,
        "working_hours": business.working_hours,
        "special_days": appointment_settings.special_days_json,
        "slot_size_min": appointment_settings.slot_size_min,
        "min_notice_min": appointment_settings.min_notice_min,
        "horizon_days": appointment_settings.horizon_days,
        "capacity": appointment_settings.capacity,
        "phones": phones_of(session, business_id),
        "realtime_model": business.realtime_model,
        "transcription_model": business.transcription_model,
    }


def settings_problem(session: Session, business_id: int) -> str | None:
    """What makes a saved business unusable (written by hand, or under older rules); None when it is fine."""
    try:
        stored = stored_settings(session, business_id)
        effective_hours(stored.pop("opening_hours"), stored.pop("working_hours"))
        rules.validate(stored)
    except ValueError as exc:
        return str(exc)
    return None


def find_business(session: Session, name: str) -> int | None:
    return session.scalar(sa.select(Business.id).where(Business.name == name).order_by(Business.id).limit(1))


def business_ids(session: Session) -> list[int]:
    return list(session.scalars(sa.select(Business.id).order_by(Business.id)))


_BUSINESSES = cast(sa.Table, Business.__table__)
_SETTINGS = cast(sa.Table, AppointmentSettings.__table__)
# Read at every call's start and by every slot check: one statement, built once, with a bound parameter.
_LOAD_SETTINGS = (
    sa.select(
        _BUSINESSES.c.name,
        _BUSINESSES.c.timezone,
        _BUSINESSES.c.working_hours,
        _BUSINESSES.c.language,
        _BUSINESSES.c.greeting_name,
        _BUSINESSES.c.realtime_model,
        _BUSINESSES.c.transcription_model,
        _SETTINGS.c.opening_hours_json,
        _SETTINGS.c.special_days_json,
        _SETTINGS.c.slot_size_min,
        _SETTINGS.c.min_notice_min,
        _SETTINGS.c.horizon_days,
        _SETTINGS.c.capacity,
    )
    .join_from(_BUSINESSES, _SETTINGS, _SETTINGS.c.business_id == _BUSINESSES.c.id)
    .where(_BUSINESSES.c.id == sa.bindparam("business_id"))
)


def listing_timezone(session: Executor, business_id: int) -> ZoneInfo:
    """The zone appointments are shown in: the business's, or UTC when its stored zone is unusable (a
    listing must work for a business whose settings are broken, so they can be seen and repaired)."""
    name = session.execute(sa.select(_BUSINESSES.c.timezone).where(_BUSINESSES.c.id == business_id)).scalar()
    if name is None:
        raise StoreError(f"no business with id {business_id}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def load_settings(session: Executor, business_id: int) -> BusinessSettings:
    row = session.execute(_LOAD_SETTINGS, {"business_id": business_id}).one_or_none()
    if row is None:
        raise StoreError(f"no business with id {business_id}")
    try:
        # Validated when loaded, by the rules an edit must pass: a call must not discover a setting written
        # by hand into the database halfway through a booking.
        rules.validate(
            {
                "timezone": row.timezone,
                "slot_size_min": row.slot_size_min,
                "min_notice_min": row.min_notice_min,
                "horizon_days": row.horizon_days,
                "capacity": row.capacity,
                "realtime_model": row.realtime_model,
                "transcription_model": row.transcription_model,
            }
        )
        hours = effective_hours(row.opening_hours_json, row.working_hours)
        special_days = parse_special_days(row.special_days_json)
    except (rules.InvalidSettings, InvalidHours, ValueError, TypeError, AttributeError) as exc:
        raise BrokenSettings(f"business {business_id} has invalid settings: {exc}") from exc
    return BusinessSettings(
        id=business_id,
        name=row.name,
        timezone=row.timezone,
        opening_hours=hours,
        slot_size_min=row.slot_size_min,
        min_notice_min=row.min_notice_min,
        horizon_days=row.horizon_days,
        capacity=row.capacity,
        special_days=special_days,
        language=row.language,
        greeting_name=row.greeting_name,
        realtime_model=row.realtime_model,
        transcription_model=row.transcription_model,
    )
