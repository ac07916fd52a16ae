"""Booking extraction from Hebrew and English phone conversations: the action type, the
extractor interface and the offline rule extractor (a small tokenizer + rule-table grammar).
"""

from .action import ACTION_KINDS, Action, ActionKind
from .extractor import Extractor
from .rules import RuleExtractor

__all__ = ["ACTION_KINDS", "Action", "ActionKind", "Extractor", "RuleExtractor"]
