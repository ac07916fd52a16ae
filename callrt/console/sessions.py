"""Signed-cookie sessions and CSRF tokens for the console.

The cookie holds `{user, csrf}` signed with itsdangerous (HMAC-SHA1 over a key derived from the
secret) and a timestamp; it is `HttpOnly`, `SameSite=Lax`, and `Secure` when the public URL is
https. Nothing else is kept on the server, so any worker of a deployment accepts any worker's
cookie as long as they share the secret: `CALLRT_SECRET_KEY`, else one generated once and kept in
the database (`server_secrets`). Every form carries the session's CSRF token; a POST without the
right one is refused.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import attrs
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "callrt_console"
MAX_AGE_S = 12 * 3600
CSRF_FIELD = "csrf_token"


@attrs.frozen
class Session:
    username: str | None
    csrf: str


class SessionCodec:
    def __init__(self, secret: str, *, secure: bool) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="callrt-console-session")
        self.secure = secure

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._serializer.loads(raw, max_age=MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        return Session(username=user if isinstance(user, str) else None, csrf=data["c"])

    def write(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps({"u": session.username, "c": session.csrf}),
            max_age=MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )


def new_session(username: str | None) -> Session:
    """A fresh session (and CSRF token): at login a new one replaces whatever the browser had."""
    return Session(username=username, csrf=secrets.token_urlsafe(24))


def csrf_ok(session: Session | None, submitted: object) -> bool:
    return (
        session is not None
        and isinstance(submitted, str)
        and hmac.compare_digest(session.csrf.encode(), submitted.encode("utf-8", "replace"))
    )
