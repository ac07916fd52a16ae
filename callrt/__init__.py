"""callrt: a supervised actor runtime, on trio, for AI phone calls.

The shell around the runtime (`actors`): the Twilio adapter, the Realtime
connector, transports, the server, simulators and the scenario runner. Names are
imported on first use, so that `import callrt` (and the CLI) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "TwilioCallerLine": "callrt.telephony.media",
    "OpenAIRealtimeConnector": "callrt.model.realtime",
    "WebSocketTransport": "callrt.net.transport",
    "MemoryTransport": "callrt.net.transport",
    "memory_transport_pair": "callrt.net.transport",
    "TelephonyServer": "callrt.server.app",
    "ServerConfig": "callrt.server.app",
    "SimulatedCaller": "callrt.sim.caller",
    "InMemoryModelConnector": "callrt.sim.realtime_peer",
    "SimScript": "callrt.sim.peer_script",
    "run_scenarios": "callrt.scenario",
    "load_scenario": "callrt.scenario",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'callrt' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
