"""The models businesses chose for their own calls (`callrt business set --realtime-model …`), found in the
database `callrt serve` reads: each distinct choice is a configuration calls will use, checked like the
server's own (announced shutdowns, then a Realtime session configured with it).

Reading the database is the one blocking part (run it in a thread). A SQLite file that does not exist is
not created: there is nothing to check yet.
"""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import attrs
import sqlalchemy as sa

from callrt.doctor.verdict import Verdict
from callrt.model.deprecations import sdk_shutdowns, shutdown_warnings
from callrt.server.config import business_models
from store import Store
from store.errors import BrokenSettings


@attrs.frozen
class ChosenModels:
    """One configuration of a business's own models, and the businesses that chose it."""

    realtime_model: str | None
    transcription_model: str | None
    business_ids: tuple[int, ...]

    @property
    def who(self) -> str:
        return f"business {', '.join(map(str, self.business_ids))}"


class NoDatabase(Exception):
    """The SQLite file of the database URL does not exist."""


def chosen_models(db_url: str, db_schema: str | None) -> list[ChosenModels]:
    """Every distinct choice of own models among the businesses with valid settings (`callrt serve` reports
    the invalid ones), oldest business first."""
    url = sa.make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise NoDatabase(f"no SQLite database at {url.database}")
    store = Store(db_url, schema=db_schema)
    try:
        chosen: dict[tuple[str | None, str | None], list[int]] = collections.defaultdict(list)
        for summary in store.list_businesses():
            try:
                settings = store.get_business(summary.id)
            except BrokenSettings:
                continue
            if business_models(settings):
                chosen[(settings.realtime_model, settings.transcription_model)].append(summary.id)
    finally:
        store.dispose()
    return [ChosenModels(realtime, transcription, tuple(ids)) for (realtime, transcription), ids in chosen.items()]


def models_verdict(models: dict[str, str], today: dt.date, who: str | None = None) -> Verdict:
    """`models_current`: none of `models` (role -> name) shut down; a warning when a shutdown is near."""
    warnings = shutdown_warnings(models, today)
    gone = [name for name in models.values() if (when := sdk_shutdowns().get(name)) is not None and when <= today]
    detail = "; ".join(warnings) if warnings else ", ".join(f"{role} {name}" for role, name in models.items())
    return Verdict(named("models_current", who), not gone, detail, warning=bool(warnings))


def named(check: str, who: str | None) -> str:
    """A check's name, for a business's configuration: `session_configured (business 3, 7)`."""
    return check if who is None else f"{check} ({who})"
