"""Booking extraction from Hebrew and English phone conversations: the action type, the
extractor interface, the offline rule extractor (a small tokenizer + rule-table grammar), and
`asks_again`: whether a caller's turn asks about the request again.
"""

from .action import ACTION_KINDS, Action, ActionKind
from .extractor import Extractor
from .repeats import asks_again
from .rules import RuleExtractor

__all__ = ["ACTION_KINDS", "Action", "ActionKind", "Extractor", "RuleExtractor", "asks_again"]
