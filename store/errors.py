"""The store's error types: what callers may catch and what they mean."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked (bad reference, broken invariant, unexpected DB error)."""


class StoreUnavailable(StoreError):
    """A transient database failure (unreachable, locked too long, repeated conflicts): retry later."""


class InvalidHours(ValueError):
    """Opening hours that cannot be understood; the message says what and where."""
