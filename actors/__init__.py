"""The per-call runtime: typed messages, traced mailboxes, supervision, the four
actors and the call supervisor. Knows nothing of HTTP, Twilio JSON or websockets.
"""

from .config import CallConfig
from .mailbox import Mailbox, Outbox
from .trace import Trace, TraceEvent, read_trace

__all__ = ["CallConfig", "Mailbox", "Outbox", "Trace", "TraceEvent", "read_trace"]
