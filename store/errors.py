"""callrt's error types that the store raises, and `CallrtError`, the root of every error callrt raises.

The root lives here, in the bottom layer, so that `store`, `actors` and `callrt` can all derive from
it without importing upwards. The whole hierarchy is listed in docs/errors.md.
"""

from __future__ import annotations


class CallrtError(Exception):
    """The base of every exception callrt raises on purpose: `except CallrtError` catches them all."""


class StoreError(CallrtError):
    """The store could not do what was asked (bad reference, broken invariant, unexpected DB error)."""


class StoreUnavailable(StoreError):
    """A transient database failure (unreachable, locked too long, repeated conflicts): retry later."""


class InvalidDatabaseUrl(StoreError, ValueError):
    """A database URL that cannot be used: malformed, an unknown database, or a driver not installed."""


class SchemaNotInitialised(StoreError):
    """The database has no callrt schema, or an older one than this callrt needs: `callrt db init` (or
    `Store.init_schema()`) creates or upgrades it."""


class BrokenSettings(StoreError):
    """A business's stored settings cannot be used (written by hand, or by an older version): the message
    says which. Raised when they are loaded, so a call sees it before any booking decision."""


class InvalidHours(CallrtError, ValueError):
    """Opening hours that cannot be understood; the message says what and where."""
