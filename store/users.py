"""Console users (the password hash only: hashing is the console's job) and the deployment's
shared secrets, made once and read by every process."""

from __future__ import annotations

import datetime as dt
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import StoreError
from .models import Business, ConsoleUser, ServerSecret
from .records import ConsoleUserInfo

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def create_user(session: Session, username: str, password_hash: str, business_id: int | None) -> int:
    if not _USERNAME.fullmatch(username):
        raise ValueError("a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    if business_id is not None and session.get(Business, business_id) is None:
        raise StoreError(f"no business with id {business_id}")
    if session.scalar(sa.select(ConsoleUser.id).where(ConsoleUser.username == username)) is not None:
        raise StoreError(f"a user named {username!r} already exists")
    user = ConsoleUser(
        username=username, password_hash=password_hash, business_id=business_id, created_at=dt.datetime.now(dt.UTC)
    )
    session.add(user)
    session.flush()
    return user.id


def find_user(session: Session, username: str) -> ConsoleUserInfo | None:
    row = session.scalars(sa.select(ConsoleUser).where(ConsoleUser.username == username)).one_or_none()
    if row is None:
        return None
    return ConsoleUserInfo(
        id=row.id, username=row.username, password_hash=row.password_hash, business_id=row.business_id
    )


def set_password_hash(session: Session, user_id: int, password_hash: str) -> None:
    """Store a re-hashed password (the hashing library's parameters moved on since it was made)."""
    session.execute(sa.update(ConsoleUser).where(ConsoleUser.id == user_id).values(password_hash=password_hash))


def shared_secret(session: Session, name: str) -> str:
    """The secret called `name`, made (random, 256 bits) the first time any process asks."""
    existing = session.get(ServerSecret, name)
    if existing is not None:
        return existing.value
    value = secrets.token_urlsafe(32)
    session.add(ServerSecret(name=name, value=value))
    session.flush()
    return value
