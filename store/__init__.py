"""Persistence and business rules: plain synchronous SQLAlchemy, no trio.

Businesses and their opening hours, availability, bookings that can never double-book
(SQLite and PostgreSQL), leads, call sessions and transcripts. See docs/booking-rules.md.
"""

from .demo import DEMO_BUSINESS, ISRAELI_HOURS, ensure_demo_business
from .errors import (
    CallrtError,
    InvalidDatabaseUrl,
    InvalidHours,
    SchemaNotInitialised,
    StoreError,
    StoreUnavailable,
)
from .records import (
    AppointmentInfo,
    BookingOutcome,
    BusinessSettings,
    BusinessSummary,
    CallbackInfo,
    CallState,
    CallSummary,
    ConsoleUserInfo,
    OpeningHours,
    SlotCheck,
    SpecialDays,
    VoiceLineAudio,
)
from .settings import InvalidSettings
from .store import Store
from .voice_lines import InvalidVoiceLine

__all__ = [
    "DEMO_BUSINESS",
    "ISRAELI_HOURS",
    "AppointmentInfo",
    "BookingOutcome",
    "BusinessSettings",
    "BusinessSummary",
    "CallState",
    "CallSummary",
    "CallbackInfo",
    "CallrtError",
    "ConsoleUserInfo",
    "InvalidDatabaseUrl",
    "InvalidHours",
    "InvalidSettings",
    "InvalidVoiceLine",
    "OpeningHours",
    "SchemaNotInitialised",
    "SlotCheck",
    "SpecialDays",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "VoiceLineAudio",
    "ensure_demo_business",
]
