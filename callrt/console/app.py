"""`Console`: the console's shared state (store, sessions, login limiter, templates) and its routes.

Who sees what: a page needs a logged-in user (else 303 to `/admin/login`); a user bound to a
business sees only that business (403 elsewhere); a user with no business sees all of them. The
trace viewer asks `trace_access` the same question.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
import attrs
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from actors.trace import trace_name
from callrt.console import auth_pages, booking_pages, call_pages, settings_pages
from callrt.console.ratelimit import LoginLimiter
from callrt.console.sessions import CSRF_FIELD, Session, SessionCodec, csrf_ok
from callrt.console.texts import REFUSALS, TEXTS, Lang, language_of
from store import BusinessSettings, ConsoleUserInfo, Store, StoreError

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
SECRET_NAME = "console_session"
DB_THREADS = 4
"""Console queries run in worker threads, at most this many at once: calls keep their own limiter."""


@attrs.frozen
class Viewer:
    """The logged-in user of a request, and their session."""

    user: ConsoleUserInfo
    session: Session

    def may_see(self, business_id: int) -> bool:
        return self.user.business_id in (None, business_id)


class Console:
    def __init__(
        self,
        store: Store,
        *,
        trace_dir: Path,
        public_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.store = store
        self.trace_dir = trace_dir
        self.secure_cookies = bool(public_url and public_url.lower().startswith("https://"))
        self._secret = env.get("CALLRT_SECRET_KEY") or None
        self._codec: SessionCodec | None = None
        self.limiter = LoginLimiter()
        self._db = anyio.CapacityLimiter(DB_THREADS)
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals["trace_name"] = trace_name

    # -- plumbing -----------------------------------------------------------------

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call in a worker thread: the event loop never waits on the database."""
        return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs), limiter=self._db)

    async def codec(self) -> SessionCodec:
        """The session codec, with `CALLRT_SECRET_KEY` or the deployment's generated secret (made once)."""
        if self._codec is None:
            secret = self._secret if self._secret else await self.run(self.store.shared_secret, SECRET_NAME)
            self._codec = SessionCodec(secret, secure=self.secure_cookies)
        return self._codec

    async def viewer(self, request: Request) -> Viewer | None:
        session = (await self.codec()).read(request)
        if session is None or session.username is None:
            return None
        user = await self.run(self.store.console_user, session.username)
        return None if user is None else Viewer(user, session)

    @staticmethod
    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/admin/login?next={quote(target, safe='')}", status_code=303)

    async def csrf_checked(self, request: Request, viewer: Viewer) -> Any:
        """The posted form, or None when its CSRF token is missing or wrong."""
        form = await request.form()
        return form if csrf_ok(viewer.session, form.get(CSRF_FIELD)) else None

    async def business_page(self, request: Request) -> tuple[Viewer, BusinessSettings] | Response:
        """The viewer and the business of a `/admin/b/{id}/…` page, or the response that refuses it."""
        viewer = await self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        business_id = int(request.path_params["business_id"])
        if not viewer.may_see(business_id):
            return self.page(request, "forbidden.html", viewer, language_of(None), status_code=403)
        try:
            business = await self.run(self.store.get_business, business_id)
        except StoreError:
            return PlainTextResponse("no such business", status_code=404)
        except ValueError:  # saved settings that no longer parse: still show the editor's raw view
            business = await self.run(_unparsed_business, self.store, business_id)
        return viewer, business

    def page(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None,
        lang: Lang,
        *,
        business: BusinessSettings | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "t": TEXTS[lang],
                "refusals": REFUSALS[lang],
                "lang": lang,
                "dir": "rtl" if lang == "he" else "ltr",
                "viewer": viewer,
                "business": business,
                "business_tz": ZoneInfo(business.timezone) if business else None,
                "csrf": viewer.session.csrf if viewer else context.pop("csrf", ""),
                "csrf_field": CSRF_FIELD,
                **context,
            },
            status_code=status_code,
        )
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; form-action 'self'"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    # -- the trace viewer's gate --------------------------------------------------------

    async def trace_access(self, request: Request) -> Response | int | None:
        """For the trace viewer: a redirect to the login, or the one business whose traces the user
        may read (None: every business's)."""
        viewer = await self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        return viewer.user.business_id

    # -- routes ----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Mount("/admin/static", StaticFiles(directory=HERE / "static"), name="console_static"),
            *auth_pages.routes(self),
            *settings_pages.routes(self),
            *booking_pages.routes(self),
            *call_pages.routes(self),
        ]


def _unparsed_business(store: Store, business_id: int) -> BusinessSettings:
    stored = store.stored_settings(business_id)
    return BusinessSettings(
        id=business_id,
        name=stored["name"],
        timezone="UTC",
        opening_hours={},
        slot_size_min=30,
        min_notice_min=0,
        horizon_days=0,
        capacity=1,
        language=language_of(stored["language"]),
    )
