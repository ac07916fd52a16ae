"""The model defaults against the installed SDK's announced shutdowns (an SDK upgrade tells us)."""

from __future__ import annotations

import datetime as dt

from actors.config import CallConfig
from actors.defaults import DEFAULT_REALTIME_MODELS, DEFAULT_TRANSCRIPTION_MODEL, REPLACEMENT_TRANSCRIPTION_MODEL
from callrt.model.deprecations import parse_shutdowns, sdk_shutdowns, shutdown_warnings
from callrt.server.config import ServerConfig, configured_models


def test_the_sdk_announces_the_shutdowns_we_know_of() -> None:
    # If the SDK stops documenting them this way, the check below would pass vacuously: fail instead.
    shutdowns = sdk_shutdowns()
    assert shutdowns["gpt-realtime"] == dt.date(2027, 1, 20)
    assert shutdowns["whisper-1"] == dt.date(2027, 2, 26)


def test_no_default_model_has_an_announced_shutdown() -> None:
    defaults = [DEFAULT_REALTIME_MODELS["ga"], DEFAULT_TRANSCRIPTION_MODEL, REPLACEMENT_TRANSCRIPTION_MODEL]
    announced = {model: sdk_shutdowns()[model] for model in defaults if model in sdk_shutdowns()}
    assert announced == {}, f"defaults with an announced shutdown: {announced}"
    assert CallConfig().transcription_model == DEFAULT_TRANSCRIPTION_MODEL


def test_an_entry_lists_several_models_over_wrapped_lines() -> None:
    text = """Deprecated values:

    - "a-1", "a-2",
      "a-3": Announced shutdown date:
      2027-02-26. See https://example.com
    - "b": Announced shutdown date: 2026-05-07.
    """
    assert parse_shutdowns(text) == {
        "a-1": dt.date(2027, 2, 26),
        "a-2": dt.date(2027, 2, 26),
        "a-3": dt.date(2027, 2, 26),
        "b": dt.date(2026, 5, 7),
    }


def test_serve_warns_about_a_configured_model_shut_down_within_90_days() -> None:
    config = ServerConfig.from_env({"CALLRT_OPENAI_MODEL": "gpt-realtime", "CALLRT_TRANSCRIPTION_MODEL": "whisper-1"})
    models = configured_models(config)
    assert models["Realtime"] == "gpt-realtime" and models["transcription"] == "whisper-1"
    soon = shutdown_warnings(models, dt.date(2026, 11, 30))
    assert any("'gpt-realtime' shuts down on 2027-01-20 (51 days)" in line for line in soon)
    assert any("'whisper-1' shuts down on 2027-02-26" in line for line in soon)
    assert not any("whisper-1" in line for line in shutdown_warnings(models, dt.date(2026, 6, 1)))
    current = configured_models(ServerConfig.from_env({}))
    assert current["Realtime"] == DEFAULT_REALTIME_MODELS["ga"]
    assert not [line for line in shutdown_warnings(current, dt.date(2026, 11, 30)) if "NLP" not in line]
