"""Logging in and out, and the list of businesses a user may open."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from callrt.console import passwords
from callrt.console.sessions import CSRF_FIELD, csrf_ok, new_session
from callrt.console.texts import preferred_language

if TYPE_CHECKING:
    from callrt.console.app import Console

logger = logging.getLogger("callrt.console")
MAX_FIELD = 256


def _next_page(raw: object) -> str:
    """Where to go after logging in: only a path on this server, never another site."""
    target = str(raw or "")
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/admin/"


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def routes(console: Console) -> list[BaseRoute]:
    async def login_form(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
        codec = await console.codec()
        session = codec.read(request) or new_session(None)
        lang = preferred_language(request.headers.get("accept-language", ""))
        response = console.page(
            request,
            "login.html",
            None,
            lang,
            csrf=session.csrf,
            error=error,
            next_page=_next_page(request.query_params.get("next")),
            status_code=status_code,
        )
        codec.write(response, session)
        return response

    async def show_login(request: Request) -> Response:
        return await login_form(request)

    async def log_in(request: Request) -> Response:
        codec = await console.codec()
        form = await request.form()
        if not csrf_ok(codec.read(request), form.get(CSRF_FIELD)):
            return Response("missing or wrong CSRF token", status_code=403)
        username = str(form.get("username", ""))[:MAX_FIELD].strip()
        password = str(form.get("password", ""))[:MAX_FIELD]
        address = _client(request)
        if console.limiter.blocked(address, username):
            logger.warning("console login refused: too many failures from %s or for %r", address, username[:64])
            return await login_form(request, error="login_blocked", status_code=429)
        user = await console.run(console.store.console_user, username) if username else None
        if not await console.run(passwords.verify, user.password_hash if user else None, password) or user is None:
            console.limiter.failed(address, username)
            logger.warning("console login failed for %r from %s", username[:64], address)
            return await login_form(request, error="login_failed")  # 200: a browser logs any 4xx as an error
        console.limiter.succeeded(username)
        if passwords.needs_rehash(user.password_hash):
            await console.run(console.store.set_console_password_hash, user.id, passwords.hash_password(password))
        logger.info("console login: %s from %s", user.username, address)
        response = RedirectResponse(_next_page(form.get("next")), status_code=303)
        codec.write(response, new_session(user.username))
        return response

    async def log_out(request: Request) -> Response:
        codec = await console.codec()
        form = await request.form()
        if not csrf_ok(codec.read(request), form.get(CSRF_FIELD)):
            return Response("missing or wrong CSRF token", status_code=403)
        response = RedirectResponse("/admin/login", status_code=303)
        codec.write(response, new_session(None))
        return response

    async def index(request: Request) -> Response:
        viewer = await console.viewer(request)
        if viewer is None:
            return console.to_login(request)
        if viewer.user.business_id is not None:
            return RedirectResponse(f"/admin/b/{viewer.user.business_id}/bookings", status_code=303)
        businesses = await console.run(console.store.list_businesses)
        lang = preferred_language(request.headers.get("accept-language", ""))
        return console.page(request, "businesses.html", viewer, lang, businesses=businesses)

    return [
        Route("/admin/login", show_login, methods=["GET"]),
        Route("/admin/login", log_in, methods=["POST"]),
        Route("/admin/logout", log_out, methods=["POST"]),
        Route("/admin/", index, methods=["GET"]),
        Route("/admin", index, methods=["GET"]),
    ]
