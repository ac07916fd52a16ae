"""What `callrt serve` checks and logs about the database before it starts, on a real SQLite store."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from callrt.cli.serve import prepare_database
from callrt.model.deprecations import sdk_shutdowns
from callrt.server.config import ServerConfig
from store import Store

HOURS = {"sun": [("09:00", "19:00")]}


def test_a_business_whose_own_model_shuts_down_soon_is_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    retiring = min(sdk_shutdowns().items(), key=lambda item: item[1])[0]  # already shut down, or soon: warned
    assert sdk_shutdowns()[retiring] - dt.date.today() <= dt.timedelta(days=90)
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    store = Store(url)
    store.init_schema()
    chose = store.create_business(name="Dana\x1b[2J salon", opening_hours=HOURS, phones=["+97231234567"])
    store.update_business(chose, realtime_model=retiring)
    plain = store.create_business(name="Plain", opening_hours=HOURS, phones=["+97231234568"])
    store.dispose()
    with caplog.at_level(logging.WARNING, logger="callrt.serve"):
        served = prepare_database(ServerConfig(db_url=url))
    assert {b.id for b in served} == {chose, plain}
    [warning] = [r.getMessage() for r in caplog.records if retiring in r.getMessage()]
    assert warning.startswith(f"business {chose} (Dana\\u001b[2J salon): the Realtime model {retiring!r}")
    assert warning.endswith(f"(`callrt business set {chose}`)")
    assert not any(f"business {plain} " in r.getMessage() for r in caplog.records)
