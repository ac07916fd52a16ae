"""callrt: a supervised actor runtime, on trio, for AI phone calls.

The shell around the runtime (`actors`) and its store (`store`): the Twilio adapter, the Realtime
connector, transports, the server, simulators and the scenario runner. Everything a user embeds is
exported here, typed; names are imported on first use, so that `import callrt` (and the CLI) stays
fast. `CallrtError` is the root of every exception callrt raises (docs/errors.md lists them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from callrt._version import __version__

if TYPE_CHECKING:
    from actors import CallConfig, CallOutcome, EndedBy, Trace, run_call
    from actors.ports import CallerLine, LineClosed, ModelClosed, ModelConnection, ModelConnector
    from callrt.model.realtime import OpenAIRealtimeConnector
    from callrt.net.transport import MemoryTransport, TransportClosed, WebSocketTransport, memory_transport_pair
    from callrt.net.websocket import HandshakeFailed
    from callrt.scenario import ScenarioError, load_scenario, run_scenarios
    from callrt.server.app import TelephonyServer
    from callrt.server.config import ServerConfig
    from callrt.sim.caller import SimulatedCaller
    from callrt.sim.peer_script import SimScript
    from callrt.sim.realtime_peer import InMemoryModelConnector
    from callrt.telephony.media import TwilioCallerLine
    from callrt.telephony.webhook import StreamTokens
    from store import CallrtError, InvalidHours, Store, StoreError, StoreUnavailable

_LAZY = {
    "run_call": "actors",
    "CallConfig": "actors",
    "CallOutcome": "actors",
    "EndedBy": "actors",
    "Trace": "actors",
    "CallerLine": "actors.ports",
    "LineClosed": "actors.ports",
    "ModelClosed": "actors.ports",
    "ModelConnection": "actors.ports",
    "ModelConnector": "actors.ports",
    "Store": "store",
    "CallrtError": "store",
    "StoreError": "store",
    "StoreUnavailable": "store",
    "InvalidHours": "store",
    "TwilioCallerLine": "callrt.telephony.media",
    "StreamTokens": "callrt.telephony.webhook",
    "OpenAIRealtimeConnector": "callrt.model.realtime",
    "WebSocketTransport": "callrt.net.transport",
    "MemoryTransport": "callrt.net.transport",
    "TransportClosed": "callrt.net.transport",
    "memory_transport_pair": "callrt.net.transport",
    "HandshakeFailed": "callrt.net.websocket",
    "TelephonyServer": "callrt.server.app",
    "ServerConfig": "callrt.server.config",
    "SimulatedCaller": "callrt.sim.caller",
    "InMemoryModelConnector": "callrt.sim.realtime_peer",
    "SimScript": "callrt.sim.peer_script",
    "ScenarioError": "callrt.scenario",
    "run_scenarios": "callrt.scenario",
    "load_scenario": "callrt.scenario",
}

__all__ = [
    "CallConfig",
    "CallOutcome",
    "CallerLine",
    "CallrtError",
    "EndedBy",
    "HandshakeFailed",
    "InMemoryModelConnector",
    "InvalidHours",
    "LineClosed",
    "MemoryTransport",
    "ModelClosed",
    "ModelConnection",
    "ModelConnector",
    "OpenAIRealtimeConnector",
    "ScenarioError",
    "ServerConfig",
    "SimScript",
    "SimulatedCaller",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StreamTokens",
    "TelephonyServer",
    "Trace",
    "TransportClosed",
    "TwilioCallerLine",
    "WebSocketTransport",
    "__version__",
    "load_scenario",
    "memory_transport_pair",
    "run_call",
    "run_scenarios",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'callrt' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
