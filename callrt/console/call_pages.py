"""The calls page (newest first, paged, each call's conversation and a link to its trace) and the
callback requests page with its "done" button. Everything comes from the database, in a worker
thread; no trace file is read."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from actors.trace import trace_name
from callrt.console.texts import language_of
from store import CallSummary

if TYPE_CHECKING:
    from callrt.console.app import Console

logger = logging.getLogger("callrt.console")
PAGE_SIZE = 20
OUT_OF_HOURS_NOTES = ("outside_hours", "closed_day")


def outcome_key(call: CallSummary) -> str:
    """The call's outcome in words (a key of the console's texts)."""
    if call.appointment_id is not None:
        return "booked"
    if call.ended_at is None:
        return "in_progress"
    by, _, reason = (call.outcome or "").partition(":")
    if by == "supervisor" or reason.endswith("_failed"):
        return "failed"
    if by == "ai" and reason == "silence":
        return "silence"
    server_notes = " ".join(text for role, text in call.turns if role == "server")
    if any(note in server_notes for note in OUT_OF_HOURS_NOTES):
        return "out_of_hours"
    if by == "caller" and not any(role == "user" and text.strip() for role, text in call.turns):
        return "caller_hung_up"
    return "no_booking"


def duration_text(call: CallSummary) -> str:
    if call.ended_at is None:
        return ""
    seconds = int((call.ended_at - call.started_at).total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def routes(console: Console) -> list[BaseRoute]:
    async def calls(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        found, total = await console.run(
            console.store.list_calls, business.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        return console.page(
            request,
            "calls.html",
            viewer,
            language_of(business.language),
            business=business,
            calls=[(call, outcome_key(call), duration_text(call), trace_name(call.call_sid)) for call in found],
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            total=total,
        )

    async def callbacks(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        requests = await console.run(console.store.callback_requests, business.id)
        return console.page(
            request,
            "callbacks.html",
            viewer,
            language_of(business.language),
            business=business,
            requests=requests,
        )

    async def done(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        if await console.csrf_checked(request, viewer) is None:
            return Response("missing or wrong CSRF token", status_code=403)
        request_id = int(request.path_params["request_id"])
        if await console.run(console.store.mark_callback_done, request_id, business_id=business.id):
            logger.info("callback request %d marked done by %s", request_id, viewer.user.username)
        return RedirectResponse(f"/admin/b/{business.id}/callbacks", status_code=303)

    return [
        Route("/admin/b/{business_id:int}/calls", calls, methods=["GET"]),
        Route("/admin/b/{business_id:int}/callbacks", callbacks, methods=["GET"]),
        Route("/admin/b/{business_id:int}/callbacks/{request_id:int}/done", done, methods=["POST"]),
    ]
