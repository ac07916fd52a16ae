"""Callback requests: what the business owes a caller it could not serve on the phone.

Written whenever the AI tells a caller that a person will call back, so that the promise is a
record the business sees, not words that vanish with the call. Bounded text only: what a caller
said is stored cut to `REQUEST_LIMIT` characters.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import StoreError
from .models import Business, CallbackRequest
from .records import CallbackInfo

REQUEST_LIMIT = 500
REASON_LIMIT = 64


def record(
    session: Session,
    *,
    business_id: int,
    call_sid: str | None,
    phone: str | None,
    name: str | None,
    request: str,
    reason: str,
    at: dt.datetime,
) -> int:
    if session.get(Business, business_id) is None:
        raise StoreError(f"no business with id {business_id}")
    row = CallbackRequest(
        business_id=business_id,
        call_sid=call_sid,
        phone=phone,
        name=name[:200] if name else None,
        request=request[:REQUEST_LIMIT],
        reason=reason[:REASON_LIMIT],
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


def list_requests(session: Session, business_id: int | None, *, open_only: bool) -> list[CallbackInfo]:
    """Newest first; `business_id=None` lists every business's."""
    query = sa.select(CallbackRequest).order_by(CallbackRequest.created_at.desc(), CallbackRequest.id.desc())
    if business_id is not None:
        query = query.where(CallbackRequest.business_id == business_id)
    if open_only:
        query = query.where(CallbackRequest.done_at.is_(None))
    return [_info(row) for row in session.scalars(query)]


def mark_done(session: Session, request_id: int, business_id: int | None, at: dt.datetime) -> bool:
    """True when the request was open and is now done; `business_id` limits whose request it may be."""
    row = session.get(CallbackRequest, request_id)
    if row is None or (business_id is not None and row.business_id != business_id) or row.done_at is not None:
        return False
    row.done_at = at
    return True


def _info(row: CallbackRequest) -> CallbackInfo:
    return CallbackInfo(
        id=row.id,
        business_id=row.business_id,
        call_sid=row.call_sid,
        phone=row.phone,
        name=row.name,
        request=row.request,
        reason=row.reason,
        created_at=row.created_at,
        done_at=row.done_at,
    )
