"""Suite-wide pytest hooks: failures are reported flat, not inside pytest-trio's nursery group."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.support.groups import flat_errors


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    # pytest-trio runs each test inside a nursery of its own: without this, every failing assertion
    # of an async test prints inside an ExceptionGroup.
    with flat_errors():
        return (yield)
