"""Businesses and their appointment settings: validated on save, read back as `BusinessSettings`."""

from __future__ import annotations

from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .engine import Executor
from .errors import StoreError
from .hours import effective_hours
from .models import AppointmentSettings, Business
from .records import BusinessSettings


def _validate_settings(
    timezone: str, slot_size_min: int, min_notice_min: int, horizon_days: int, capacity: int
) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r} (use an IANA name such as Asia/Jerusalem)") from exc
    if not 5 <= slot_size_min <= 24 * 60:
        raise ValueError(f"slot_size_min must be between 5 and 1440 minutes, got {slot_size_min}")
    if min_notice_min < 0 or horizon_days < 0:
        raise ValueError("min_notice_min and horizon_days cannot be negative")
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1, got {capacity}")


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
) -> int:
    """Validate everything (hours → `InvalidHours`, the rest → `ValueError`) and save the business."""
    effective_hours(opening_hours, working_hours)
    _validate_settings(timezone, slot_size_min, min_notice_min, horizon_days, capacity)
    business = Business(name=name, timezone=timezone, working_hours=working_hours)
    session.add(business)
    session.flush()
    session.add(
        AppointmentSettings(
            business_id=business.id,
            opening_hours_json=opening_hours,
            slot_size_min=slot_size_min,
            min_notice_min=min_notice_min,
            horizon_days=horizon_days,
            capacity=capacity,
        )
    )
    return business.id


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
        _SETTINGS.c.opening_hours_json,
        _SETTINGS.c.slot_size_min,
        _SETTINGS.c.min_notice_min,
        _SETTINGS.c.horizon_days,
        _SETTINGS.c.capacity,
    )
    .join_from(_BUSINESSES, _SETTINGS, _SETTINGS.c.business_id == _BUSINESSES.c.id)
    .where(_BUSINESSES.c.id == sa.bindparam("business_id"))
)


def load_settings(session: Executor, business_id: int) -> BusinessSettings:
    row = session.execute(_LOAD_SETTINGS, {"business_id": business_id}).one_or_none()
    if row is None:
        raise StoreError(f"no business with id {business_id}")
    return BusinessSettings(
        id=business_id,
        name=row.name,
        timezone=row.timezone,
        opening_hours=effective_hours(row.opening_hours_json, row.working_hours),
        slot_size_min=row.slot_size_min,
        min_notice_min=row.min_notice_min,
        horizon_days=row.horizon_days,
        capacity=row.capacity,
    )
