"""`Store`: the one object the rest of callrt uses. Each method is one transaction (retried when it
loses a race) over the functions of the topic modules; no SQLAlchemy object leaves it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from . import availability, bookings, businesses, callbacks, calls, leads, streams, users, voice_lines
from .businesses import business_ids, create_business, find_business, load_settings
from .engine import Transactions, make_engine, translate_error
from .errors import SchemaNotInitialised
from .records import (
    AppointmentInfo,
    BookingOutcome,
    BusinessSettings,
    BusinessSummary,
    CallbackInfo,
    CallState,
    CallSummary,
    ConsoleUserInfo,
    SlotCheck,
    VoiceLineAudio,
)
from .versioning import adopt_legacy_version, current_revision

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x63616C6C7274  # "callrt": serialises concurrent `init_schema` on PostgreSQL


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class Store:
    """Persistence and booking rules over `sqlite:///file.db` or `postgresql+psycopg://…`.

    `schema` (PostgreSQL only; `CALLRT_DB_SCHEMA` where callrt reads its environment) keeps every table
    of the store in that schema, created if missing, for a database shared with the host application."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.engine = make_engine(url, schema=schema)
        self._tx = Transactions(self.engine)

    # -- schema --------------------------------------------------------------

    def init_schema(self) -> str | None:
        """Bring the schema to the latest migration (`alembic upgrade head`); safe to run again. A version
        recorded in a legacy `alembic_version` table is moved to callrt's own first (store/versioning.py).
        Returns the revision the database was at before: None when it had no callrt schema."""
        config = _alembic_config()
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                if self.schema:
                    connection.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
                adopt_legacy_version(connection, self.schema, known)
                before = current_revision(connection, self.schema)
                config.attributes["connection"] = connection
                config.attributes["schema"] = self.schema
                command.upgrade(config, "head")
        except sa.exc.DBAPIError as exc:
            raise translate_error(exc) from exc
        return before

    def schema_revision(self) -> str | None:
        """The migration the database's schema is at; None when it has no callrt schema."""
        try:
            with self.engine.connect() as connection:
                return current_revision(connection, self.schema)
        except sa.exc.DBAPIError as exc:
            raise translate_error(exc) from exc

    def check_schema(self) -> None:
        """Raises `SchemaNotInitialised` unless the database's schema is at the latest migration (what a server
        that does not migrate on its own start needs: `callrt db init` first)."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        revision = self.schema_revision()
        if revision is None:
            where = f" (in schema {self.schema!r})" if self.schema else ""
            raise SchemaNotInitialised(f"the database has no callrt tables{where}: create them with `callrt db init`")
        if revision != head:
            raise SchemaNotInitialised(
                f"the database's schema is at revision {revision}, this callrt needs {head}: "
                "upgrade it with `callrt db init`"
            )

    def dispose(self) -> None:
        self.engine.dispose()

    # -- businesses and availability ------------------------------------------

    def create_business(
        self,
        *,
        name: str,
        timezone: str = "Asia/Jerusalem",
        opening_hours: Any = None,
        working_hours: Any = None,
        slot_size_min: int = 30,
        min_notice_min: int = 60,
        horizon_days: int = 60,
        capacity: int = 1,
        language: str = "he",
        greeting_name: str | None = None,
        special_days: Any = None,
        phones: list[str] | None = None,
    ) -> int:
        return self._tx.write(
            lambda s: create_business(
                s,
                name=name,
                timezone=timezone,
                opening_hours=opening_hours,
                working_hours=working_hours,
                slot_size_min=slot_size_min,
                min_notice_min=min_notice_min,
                horizon_days=horizon_days,
                capacity=capacity,
                language=language,
                greeting_name=greeting_name,
                special_days=special_days,
                phones=phones,
            )
        )

    def update_business(self, business_id: int, **changes: Any) -> None:
        """Change some settings, all or nothing (fields: `store.settings.VALIDATORS`); a bad field raises
        `InvalidSettings` naming every bad field. Calls already running keep what they started with."""
        self._tx.write(lambda s: businesses.update_business(s, business_id, changes))

    def stored_settings(self, business_id: int) -> dict[str, Any]:
        """The business's settings as saved (hours as written, phones), for editors."""
        return self._tx.read(lambda s: businesses.stored_settings(s, business_id))

    def settings_problem(self, business_id: int) -> str | None:
        """Why the saved settings cannot be used, or None when they can."""
        return self._tx.read(lambda s: businesses.settings_problem(s, business_id))

    def list_businesses(self) -> list[BusinessSummary]:
        return self._tx.read(businesses.summaries)

    def business_for_number(self, phone: str) -> int | None:
        """The business a called number (Twilio's `To`) reaches, if any."""
        return self._tx.read(lambda s: businesses.business_for_number(s, phone))

    def find_business(self, name: str) -> int | None:
        """The id of the oldest business with this name, if any."""
        return self._tx.read(lambda s: find_business(s, name))

    def business_ids(self) -> list[int]:
        """Every business's id, oldest first."""
        return self._tx.read(business_ids)

    def get_business(self, business_id: int) -> BusinessSettings:
        return self._tx.read_statements(lambda c: load_settings(c, business_id))

    def check_slot(self, business_id: int, start: dt.datetime, now: dt.datetime) -> SlotCheck:
        def work(connection: sa.Connection) -> SlotCheck:
            settings = load_settings(connection, business_id)
            return availability.check_slot(settings, bookings.busy_intervals(connection, settings, now), start, now)

        return self._tx.read_statements(work)

    def alternatives(self, business_id: int, start: dt.datetime, now: dt.datetime, n: int = 3) -> list[dt.datetime]:
        def work(connection: sa.Connection) -> list[dt.datetime]:
            settings = load_settings(connection, business_id)
            return availability.alternatives(
                settings, bookings.busy_intervals(connection, settings, now), start, now, n
            )

        return self._tx.read_statements(work)

    # -- bookings --------------------------------------------------------------

    def create_appointment_from_realtime(
        self,
        *,
        business_id: int,
        call_sid: str,
        start: dt.datetime,
        name: str | None,
        phone: str | None,
        now: dt.datetime,
    ) -> BookingOutcome:
        return self._tx.write(
            lambda s: bookings.create_from_call(
                s, business_id=business_id, call_sid=call_sid, start=start, name=name, phone=phone, now=now
            )
        )

    def reschedule_appointment(
        self, *, business_id: int, call_sid: str, phone: str | None, new_start: dt.datetime, now: dt.datetime
    ) -> BookingOutcome:
        return self._tx.write(
            lambda s: bookings.reschedule(
                s, business_id=business_id, call_sid=call_sid, phone=phone, new_start=new_start, now=now
            )
        )

    def cancel_appointment(
        self, *, business_id: int, call_sid: str, phone: str | None, now: dt.datetime | None = None
    ) -> BookingOutcome:
        """`now` decides which appointments are still upcoming (default: the wall clock)."""
        when = now or dt.datetime.now(dt.UTC)
        return self._tx.write(
            lambda s: bookings.cancel(s, business_id=business_id, call_sid=call_sid, phone=phone, now=when)
        )

    def add_appointment(
        self, business_id: int, start: dt.datetime, minutes: int, name: str | None = None, phone: str | None = None
    ) -> int:
        return self._tx.write(lambda s: bookings.add_existing(s, business_id, start, minutes, name, phone))

    def list_appointments(
        self,
        business_id: int,
        *,
        call_sid: str | None = None,
        active_only: bool = True,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        search: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[AppointmentInfo]:
        """Oldest first (or newest first); optionally starting in `[since, until)`, or matching `search`
        in the name or phone."""
        return self._tx.read(
            lambda s: bookings.list_appointments(
                s,
                business_id,
                call_sid=call_sid,
                active_only=active_only,
                since=since,
                until=until,
                search=search,
                newest_first=newest_first,
                limit=limit,
            )
        )

    def cancel_appointment_by_id(self, *, business_id: int, appointment_id: int) -> BookingOutcome:
        """The console's cancel: this business's appointment, its slot freed in the same transaction."""
        return self._tx.write(
            lambda s: bookings.cancel_by_id(s, business_id=business_id, appointment_id=appointment_id)
        )

    def move_appointment(
        self, *, business_id: int, appointment_id: int, new_start: dt.datetime, now: dt.datetime | None = None
    ) -> BookingOutcome:
        """The console's move, by the rules a caller's move follows (a taken slot is refused with the reason)."""
        when = now or dt.datetime.now(dt.UTC)
        return self._tx.write(
            lambda s: bookings.move_by_id(
                s, business_id=business_id, appointment_id=appointment_id, new_start=new_start, now=when
            )
        )

    # -- leads -----------------------------------------------------------------

    def ensure_lead(self, business_id: int, phone: str, name: str | None = None) -> int:
        return self._tx.write(lambda s: leads.ensure_lead(s, business_id, phone, name))

    def update_lead_on_call(
        self,
        business_id: int,
        phone: str,
        *,
        name: str | None = None,
        status: str | None = None,
        note: str | None = None,
    ) -> None:
        self._tx.write(lambda s: leads.update_lead(s, business_id, phone, name=name, status=status, note=note))

    # -- callback requests -------------------------------------------------------

    def record_callback_request(
        self,
        *,
        business_id: int,
        call_sid: str | None,
        phone: str | None,
        name: str | None,
        request: str,
        reason: str,
        at: dt.datetime | None = None,
    ) -> int:
        """Record that a person of the business owes this caller a call; the request's id."""
        when = at or dt.datetime.now(dt.UTC)
        return self._tx.write(
            lambda s: callbacks.record(
                s,
                business_id=business_id,
                call_sid=call_sid,
                phone=phone,
                name=name,
                request=request,
                reason=reason,
                at=when,
            )
        )

    def callback_requests(self, business_id: int | None = None, *, open_only: bool = True) -> list[CallbackInfo]:
        """Newest first; every business's when `business_id` is None."""
        return self._tx.read(lambda s: callbacks.list_requests(s, business_id, open_only=open_only))

    def mark_callback_done(self, request_id: int, *, business_id: int | None = None) -> bool:
        """True when it was open (and, given `business_id`, that business's) and is now done."""
        now = dt.datetime.now(dt.UTC)
        return self._tx.write(lambda s: callbacks.mark_done(s, request_id, business_id, now))

    # -- the runtime's own lines ---------------------------------------------------

    def voice_lines(self, business_id: int, voice: str) -> list[VoiceLineAudio]:
        """The business's audio for the runtime's lines usable in `voice` (its uploads, the model's in that voice)."""
        return self._tx.read(lambda s: voice_lines.lines_of(s, business_id, voice))

    def keep_model_line(self, business_id: int, voice: str, line: str, language: str, audio: bytes) -> bool:
        """Keep the model's audio of a line unless the business has it in this voice already; whether kept."""
        now = dt.datetime.now(dt.UTC)
        return self._tx.write(lambda s: voice_lines.keep_model_line(s, business_id, voice, line, language, audio, now))

    def upload_voice_line(self, business_id: int, line: str, language: str, audio: bytes) -> None:
        """The business's own recording of a line (mu-law 8 kHz), replacing its previous one."""
        now = dt.datetime.now(dt.UTC)
        self._tx.write(lambda s: voice_lines.upload(s, business_id, line, language, audio, now))

    def remove_voice_line(self, business_id: int, line: str, language: str, source: str) -> int:
        """Forget a line's audio of `source` (`uploaded` or `model`); how many were removed."""
        return self._tx.write(lambda s: voice_lines.remove(s, business_id, line, language, source))

    # -- media streams -----------------------------------------------------------

    def claim_stream(self, call_sid: str, token: str, *, expires_at: dt.datetime) -> bool:
        """Whether this stream may serve the call: the first with its token, and the call has no session yet
        (the answer is the same for every process on this database)."""
        now = dt.datetime.now(dt.UTC)
        return self._tx.write(lambda s: streams.claim(s, call_sid, token, expires_at, now))

    # -- call sessions -----------------------------------------------------------

    def start_call_session(self, call_sid: str, business_id: int, phone: str | None) -> None:
        self._tx.write(lambda s: calls.start_call_session(s, call_sid, business_id, phone))

    def end_call_session(self, call_sid: str, outcome: str) -> None:
        self._tx.write(lambda s: calls.end_call_session(s, call_sid, outcome))

    def close_open_sessions(self, business_ids: list[int], *, outcome: str = "interrupted") -> int:
        """Startup reconciliation: sessions of these businesses left open by a process that died are ended
        (`interrupted`); only sessions started before this call, so a call starting meanwhile is untouched."""
        before = dt.datetime.now(dt.UTC)
        return self._tx.write(lambda s: calls.close_open_sessions(s, business_ids, outcome, before))

    def record_turn(self, call_sid: str, role: str, text: str) -> int:
        return self._tx.write_statements(lambda c: calls.record_turn(c, call_sid, role, text))

    def set_turn_text(self, call_sid: str, seq: int, text: str) -> None:
        self._tx.write_statements(lambda c: calls.set_turn_text(c, call_sid, seq, text))

    def load_call_state(self, call_sid: str) -> CallState:
        return self._tx.read(lambda s: calls.load_call_state(s, call_sid))

    def mark_silence_prompt_used(self, call_sid: str) -> bool:
        return self._tx.write(lambda s: calls.mark_silence_prompt_used(s, call_sid))

    def list_calls(self, business_id: int, *, offset: int = 0, limit: int = 20) -> tuple[list[CallSummary], int]:
        """A page of the business's calls (newest first, with their conversation) and the number of calls."""
        return self._tx.read(lambda s: calls.list_calls(s, business_id, offset=offset, limit=limit))

    def business_of_call(self, call_sid: str) -> int | None:
        return self._tx.read(lambda s: calls.business_of_call(s, call_sid))

    # -- console users and shared secrets ------------------------------------------

    def create_console_user(self, username: str, password_hash: str, business_id: int | None = None) -> int:
        return self._tx.write(lambda s: users.create_user(s, username, password_hash, business_id))

    def console_user(self, username: str) -> ConsoleUserInfo | None:
        return self._tx.read(lambda s: users.find_user(s, username))

    def set_console_password_hash(self, user_id: int, password_hash: str) -> None:
        self._tx.write(lambda s: users.set_password_hash(s, user_id, password_hash))

    def shared_secret(self, name: str) -> str:
        """A deployment-wide secret, generated and saved the first time it is asked for."""
        return self._tx.write(lambda s: users.shared_secret(s, name))
