"""What a call's RealtimeActor knew when it stopped, kept by the call for the instance that replaces it.

The store is where a restarted instance reloads the conversation from. While the database is down it
cannot, and an instance starting from nothing would greet the caller a second time, forget what was
said, and answer for no business. So each instance leaves what it knew here as it stops (crash or
end), and its successor starts from it when the store cannot be read: the turns as they were in
memory (written or not), whether the silence prompt was used, whether a booking backed its claims,
the business's settings, and the turn writes it could not make, which the successor makes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from store.records import BusinessSettings

from .messages import HistoryTurn

if TYPE_CHECKING:
    from .turn_writer import HeldWrites  # the writer needs the call's context, which holds this


@attrs.define
class KnownConversation:
    turns: tuple[tuple[str, str], ...] | None = None
    """The conversation, as (role, text) like the store's; None while no instance has stopped."""
    silence_prompt_used: bool = False
    booking_backed: bool = False
    business: BusinessSettings | None = None
    held_writes: HeldWrites | None = None
    """The turn writes it could not make, for a successor that carries on from these turns."""

    def remember(
        self,
        turns: Iterable[HistoryTurn],
        *,
        silence_prompt_used: bool,
        booking_backed: bool,
        business: BusinessSettings | None,
        held_writes: HeldWrites,
    ) -> None:
        self.turns = tuple((turn.role, turn.text) for turn in turns)
        self.silence_prompt_used = silence_prompt_used
        self.booking_backed = booking_backed
        self.business = business
        self.held_writes = held_writes
