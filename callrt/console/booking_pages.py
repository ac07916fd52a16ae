"""The bookings page: appointments of a day or a week, cancel and move (through the same claims as a
phone booking), and a search of past appointments by name or phone."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from callrt.console.texts import language_of
from store import AppointmentInfo

if TYPE_CHECKING:
    from callrt.console.app import Console

logger = logging.getLogger("callrt.console")
SEARCH_LIMIT = 100
MAX_SEARCH = 64


def period(view: str, raw_day: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and the day after the last local date shown: one day, or the week (Sunday first) of it."""
    try:
        day = dt.date.fromisoformat(raw_day) if raw_day else today
    except ValueError:
        day = today
    if view == "day":
        return day, day + dt.timedelta(days=1)
    first = day - dt.timedelta(days=(day.weekday() + 1) % 7)
    return first, first + dt.timedelta(days=7)


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


def by_day(appointments: list[AppointmentInfo]) -> list[tuple[dt.date, list[AppointmentInfo]]]:
    days: dict[dt.date, list[AppointmentInfo]] = {}
    for appointment in appointments:
        days.setdefault(appointment.start.date(), []).append(appointment)
    return sorted(days.items())


def routes(console: Console) -> list[BaseRoute]:
    async def show(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        tz = ZoneInfo(business.timezone)
        now = dt.datetime.now(tz)
        view = "day" if request.query_params.get("view") == "day" else "week"
        first, after = period(view, request.query_params.get("date"), now.date())
        appointments = await console.run(
            console.store.list_appointments, business.id, since=_midnight(first, tz), until=_midnight(after, tz)
        )
        query = request.query_params.get("q", "").strip()[:MAX_SEARCH]
        found = (
            await console.run(
                console.store.list_appointments,
                business.id,
                active_only=False,
                until=now,
                search=query,
                newest_first=True,
                limit=SEARCH_LIMIT,
            )
            if query
            else None
        )
        step = dt.timedelta(days=1 if view == "day" else 7)
        return console.page(
            request,
            "bookings.html",
            viewer,
            language_of(business.language),
            business=business,
            view=view,
            first=first,
            last=after - dt.timedelta(days=1),
            previous=(first - step).isoformat(),
            following=(first + step).isoformat(),
            days=by_day(appointments),
            query=query,
            found=found,
            now=now,
            message=request.query_params.get("message"),
            refused=request.query_params.get("refused"),
        )

    def back(business_id: int, form: object, **result: str) -> RedirectResponse:
        kept = {key: str(form.get(key)) for key in ("view", "date") if form.get(key)}  # type: ignore[attr-defined]
        return RedirectResponse(f"/admin/b/{business_id}/bookings?{urlencode({**kept, **result})}", status_code=303)

    async def cancel(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        form = await console.csrf_checked(request, viewer)
        if form is None:
            return Response("missing or wrong CSRF token", status_code=403)
        appointment_id = int(request.path_params["appointment_id"])
        outcome = await console.run(
            console.store.cancel_appointment_by_id, business_id=business.id, appointment_id=appointment_id
        )
        if outcome.reason:
            return back(business.id, form, refused=outcome.reason)
        logger.info("appointment %d of business %d cancelled by %s", appointment_id, business.id, viewer.user.username)
        return back(business.id, form, message="cancelled")

    async def move(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        form = await console.csrf_checked(request, viewer)
        if form is None:
            return Response("missing or wrong CSRF token", status_code=403)
        try:
            wall = dt.datetime.fromisoformat(str(form.get("new_start", "")))
        except ValueError:
            return back(business.id, form, refused="not_on_slot_grid")
        new_start = wall.replace(tzinfo=ZoneInfo(business.timezone)) if wall.tzinfo is None else wall
        outcome = await console.run(
            console.store.move_appointment,
            business_id=business.id,
            appointment_id=int(request.path_params["appointment_id"]),
            new_start=new_start,
        )
        if outcome.reason:
            return back(business.id, form, refused=outcome.reason)
        return back(business.id, form, message="moved")

    return [
        Route("/admin/b/{business_id:int}/bookings", show, methods=["GET"]),
        Route("/admin/b/{business_id:int}/bookings/{appointment_id:int}/cancel", cancel, methods=["POST"]),
        Route("/admin/b/{business_id:int}/bookings/{appointment_id:int}/move", move, methods=["POST"]),
    ]
