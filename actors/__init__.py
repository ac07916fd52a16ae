"""The per-call runtime: typed messages, traced mailboxes, supervision, the four
actors and the call supervisor. Knows nothing of HTTP, Twilio JSON or websockets.
"""

from .call_context import CallContext, CallMailboxes
from .call_supervisor import CallOutcome, run_call
from .config import CallConfig
from .db import StoreGateway
from .mailbox import Mailbox, Outbox
from .messages import EndedBy
from .ports import CallerLine, LineClosed, ModelClosed, ModelConnection, ModelConnector, ModelUnresponsive
from .supervision import ChildSpec, Escalation, RestartKind
from .trace import Trace, TraceEvent, UnsafeTracePath, read_trace, trace_file

__all__ = [
    "CallConfig",
    "CallContext",
    "CallMailboxes",
    "CallOutcome",
    "CallerLine",
    "ChildSpec",
    "EndedBy",
    "Escalation",
    "LineClosed",
    "Mailbox",
    "ModelClosed",
    "ModelConnection",
    "ModelConnector",
    "ModelUnresponsive",
    "Outbox",
    "RestartKind",
    "StoreGateway",
    "Trace",
    "TraceEvent",
    "UnsafeTracePath",
    "read_trace",
    "run_call",
    "trace_file",
]
