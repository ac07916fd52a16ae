"""Accepted media streams: the deployment-wide memory that a stream token was used.

A token is an HMAC the server checks without the database; what it cannot check alone is whether
another process (a second worker, another server on the same database) already accepted a stream
for that call. The `stream_tokens` primary key on CallSid decides it, atomically on both databases.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import CallSession, StreamToken


def claim(session: Session, call_sid: str, token: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
    """True for the first stream of a call with no session yet; False for any later one."""
    if session.get(CallSession, call_sid) is not None:
        return False  # a live or finished call: its CallSid never starts a second stream
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    result = session.execute(
        dialect.insert(StreamToken)
        .values(
            call_sid=call_sid,
            token_digest=hashlib.sha256(token.encode("utf-8")).hexdigest(),
            claimed_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
