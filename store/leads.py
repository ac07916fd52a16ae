"""Leads: one per (business, phone), created on first contact and updated by every call."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Lead


def ensure_lead(session: Session, business_id: int, phone: str, name: str | None = None) -> int:
    """The lead's id, creating it if needed; a given name replaces the stored one.

    `INSERT … ON CONFLICT DO NOTHING` makes concurrent first calls from one number safe on both databases.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(Lead)
        .values(business_id=business_id, phone=phone, name=name, status="new")
        .on_conflict_do_nothing(index_elements=["business_id", "phone"])
    )
    lead = session.scalars(sa.select(Lead).where(Lead.business_id == business_id, Lead.phone == phone)).one()
    if name and lead.name != name:
        lead.name = name
    return lead.id


def update_lead(
    session: Session,
    business_id: int,
    phone: str,
    *,
    name: str | None = None,
    status: str | None = None,
    note: str | None = None,
) -> None:
    """Record a call with this lead: last call time, and the name, status or note if given (notes accumulate)."""
    lead = session.get_one(Lead, ensure_lead(session, business_id, phone, name))
    lead.last_call_at = dt.datetime.now(dt.UTC)
    if status:
        lead.status = status
    if note:
        lead.notes = f"{lead.notes}\n{note}" if lead.notes else note
