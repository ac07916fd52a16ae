"""What a call's RealtimeActor knew when it stopped, kept by the call for the instance that replaces it.

The store is where a restarted instance reloads the conversation from. While the database is down it
cannot, and an instance starting from nothing would greet the caller a second time, forget what was
said, and answer for no business. So each instance leaves what it knew here as it stops (crash or
end), and its successor starts from it when the store cannot be read: the turns as they were in
memory (written or not), whether the silence prompt was used, whether a booking backed its claims,
and the business's settings.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from store.records import BusinessSettings

from .messages import HistoryTurn


@attrs.define
class KnownConversation:
    turns: tuple[tuple[str, str], ...] | None = None
    """The conversation, as (role, text) like the store's; None while no instance has stopped."""
    silence_prompt_used: bool = False
    booking_backed: bool = False
    business: BusinessSettings | None = None

    def remember(
        self,
        turns: Iterable[HistoryTurn],
        *,
        silence_prompt_used: bool,
        booking_backed: bool,
        business: BusinessSettings | None,
    ) -> None:
        self.turns = tuple((turn.role, turn.text) for turn in turns)
        self.silence_prompt_used = silence_prompt_used
        self.booking_backed = booking_backed
        self.business = business
