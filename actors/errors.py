"""Errors shared by the actors."""

from __future__ import annotations


class InjectedFault(RuntimeError):
    """Raised by an actor that received `InjectedCrash`: a deliberate, supervised failure."""
