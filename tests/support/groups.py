"""Exception groups of one, unwrapped: trio's nurseries always wrap what escapes them, so a test's own
failing assertion would print inside one group per nursery between it and pytest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside `group` and its nested groups of one, or None when there are several."""
    single: BaseException = group
    while isinstance(single, BaseExceptionGroup) and len(single.exceptions) == 1:
        single = single.exceptions[0]
    return None if isinstance(single, BaseExceptionGroup) else single


@contextmanager
def flat_errors() -> Iterator[None]:
    """Raise a group of one as the exception itself; a group of several stays a group (nothing is lost)."""
    try:
        yield
    except BaseExceptionGroup as group:
        single = sole_exception(group)
        if single is None:
            raise
        raise single from None
