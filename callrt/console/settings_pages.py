"""The opening-hours and settings editor of one business: shown, checked field by field, saved all
or nothing (`Store.update_business`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from callrt.console.forms import SettingsForm
from callrt.console.texts import WEEK, language_of
from store import InvalidSettings
from store.hours import WEEKDAYS, parse_opening_hours

if TYPE_CHECKING:
    from callrt.console.app import Console, Viewer
    from store import BusinessSettings

logger = logging.getLogger("callrt.console")


def _stored_form(stored: dict[str, object]) -> SettingsForm:
    try:
        weekly = parse_opening_hours(stored.get("opening_hours"))
    except ValueError:
        weekly = {day: [] for day in WEEKDAYS}
    return SettingsForm.from_stored(stored, weekly)


def routes(console: Console) -> list[BaseRoute]:
    def render(
        request: Request,
        viewer: Viewer,
        business: BusinessSettings,
        form: SettingsForm,
        *,
        saved: bool = False,
        status_code: int = 200,
    ) -> Response:
        return console.page(
            request,
            "settings.html",
            viewer,
            language_of(business.language),
            business=business,
            form=form,
            week=WEEK,
            saved=saved,
            status_code=status_code,
        )

    async def show(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        stored = await console.run(console.store.stored_settings, business.id)
        saved = request.query_params.get("saved") == "1"
        return render(request, viewer, business, _stored_form(stored), saved=saved)

    async def save(request: Request) -> Response:
        checked = await console.business_page(request)
        if isinstance(checked, Response):
            return checked
        viewer, business = checked
        form_data = await console.csrf_checked(request, viewer)
        if form_data is None:
            return Response("missing or wrong CSRF token", status_code=403)
        form = SettingsForm.from_post(form_data)
        changes = form.changes()
        if changes is not None:
            try:
                await console.run(console.store.update_business, business.id, **changes)
            except InvalidSettings as refused:
                form.take_store_errors(refused)
            else:
                logger.info("business %d settings changed by %s", business.id, viewer.user.username)
                return RedirectResponse(f"/admin/b/{business.id}/settings?saved=1", status_code=303)
        return render(request, viewer, business, form)  # the form again, errors by their fields

    async def to_bookings(request: Request) -> Response:
        return RedirectResponse(f"/admin/b/{request.path_params['business_id']}/bookings", status_code=303)

    return [
        Route("/admin/b/{business_id:int}/settings", show, methods=["GET"]),
        Route("/admin/b/{business_id:int}/settings", save, methods=["POST"]),
        Route("/admin/b/{business_id:int}/", to_bookings, methods=["GET"]),
    ]
