"""What one accepted stream runs with: its model connector, language and booking extractor.

The model is the OpenAI Realtime API when an API key is configured, otherwise the simulated model
peer (in-process, or over a websocket at `realtime_url`) playing the stream's `sim_script`.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import attrs
import openai

from actors.appointment_nlp import Extractor, RuleExtractor
from actors.defaults import Language
from actors.ports import ModelConnector
from callrt.logsafe import escape_for_log
from callrt.model.llm_extractor import LlmExtractor
from callrt.model.realtime import OPENAI_REALTIME_URL, OpenAIRealtimeConnector
from callrt.sim.peer_script import ScriptError, SimScript
from callrt.sim.realtime_peer import CALL_HEADER, SCRIPT_HEADER, InMemoryModelConnector
from callrt.telephony.media import StreamStart

if TYPE_CHECKING:
    from callrt.server.config import ServerConfig

logger = logging.getLogger("callrt.server.plan")


@attrs.frozen
class CallPlan:
    """What one accepted stream runs with: its model connector, language and booking extractor."""

    model: ModelConnector
    language: Language | None
    """None: the business's language (a simulated peer plays its script's own)."""
    extractor: Extractor | None = None
    """None: the offline rule extractor."""


SIM_PEER_KEY = "callrt-sim-peer"
"""The bearer token sent to a simulated peer (it wants one, and checks nothing else)."""


def plan_call(config: ServerConfig, start: StreamStart) -> CallPlan:
    """The real Realtime API when a key is configured (at `realtime_url` when one is set); otherwise the
    simulated peer playing the stream's `sim_script` parameter (an empty script when there is none or it is
    unusable): over a websocket at `realtime_url` when one is set, else in-process."""
    url = config.realtime_url or OPENAI_REALTIME_URL
    if config.openai_api_key:
        connector = OpenAIRealtimeConnector(config.openai_api_key, config.openai_model, config.dialect, url=url)
        extractor = LlmExtractor(_nlp_client(config.openai_api_key), fallback=RuleExtractor())
        return CallPlan(connector, None, extractor)
    script = _sim_script(start)
    if config.realtime_url:
        headers = {SCRIPT_HEADER: script.to_json(), CALL_HEADER: start.call_sid}
        peer = OpenAIRealtimeConnector(
            SIM_PEER_KEY, config.openai_model, config.dialect, url=url, extra_headers=headers
        )
        return CallPlan(peer, script.language)
    return CallPlan(InMemoryModelConnector(script, config.dialect), script.language)


@functools.cache
def _nlp_client(api_key: str) -> openai.AsyncOpenAI:
    """One HTTP connection pool per process for the booking extractor's chat completions."""
    return openai.AsyncOpenAI(api_key=api_key)


def _sim_script(start: StreamStart) -> SimScript:
    raw = start.custom_parameters.get("sim_script")
    script = SimScript()
    if raw:
        try:
            script = SimScript.from_json(raw)
        except ScriptError as exc:
            logger.warning(
                "call %s: unusable sim_script parameter (%s); playing an empty script",
                escape_for_log(start.call_sid),
                escape_for_log(str(exc)),
            )
    return script
