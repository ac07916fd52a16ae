"""The conversation one peer session keeps: its items in order, their documents as the service shows
them, and the usage a response reports. Plain state with no I/O; `PeerSession` sends the events."""

from __future__ import annotations

from typing import Any

import attrs

from callrt.sim.peer_dialect import PeerError
from callrt.sim.peer_replies import Speaker, Turn


@attrs.define
class Item:
    """A conversation item as the peer keeps it."""

    id: str
    role: Speaker
    content: list[dict[str, Any]]
    text: str = ""
    """What the planner reads: transcript, input text, or the assistant's full reply."""
    audio_ms: int = 0
    """Assistant items: milliseconds of audio generated (after any truncation)."""


class PeerConversation:
    """The session's items; lookups raise the service's `PeerError` for ids it does not know."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def turns(self) -> list[Turn]:
        """The conversation as the reply planner reads it."""
        return [Turn(item.role, item.text) for item in self.items]

    def append(self, item: Item) -> str | None:
        """Add `item` at the end; returns the id of the item before it."""
        previous = self.last_id
        self.items.append(item)
        return previous

    def insert(self, item: Item, previous_item_id: str | None) -> str | None:
        """Add `item` after `previous_item_id` ("root": first; None: last); returns the id before it."""
        if any(existing.id == item.id for existing in self.items):
            raise PeerError("invalid_value", f"Item with id '{item.id}' already exists.", "item.id")
        index = self._insert_index(previous_item_id)
        previous = self.items[index - 1].id if index > 0 else None
        self.items.insert(index, item)
        return previous

    def _insert_index(self, previous_item_id: str | None) -> int:
        if previous_item_id is None:
            return len(self.items)
        if previous_item_id == "root":
            return 0
        for index, item in enumerate(self.items):
            if item.id == previous_item_id:
                return index + 1
        raise PeerError("invalid_value", f"Previous item with id '{previous_item_id}' not found.", "previous_item_id")

    def find(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise PeerError("invalid_value", f"Item with id '{item_id}' not found.", "item_id")

    def remove(self, item: Item) -> None:
        self.items.remove(item)

    def usage(self, said: str, audio_ms: int) -> dict[str, Any]:
        """A response's token usage, estimated the way the service counts: ~4 characters a text token."""
        input_text = sum(len(item.text) for item in self.items) // 4
        output_text = len(said) // 4
        output_audio = audio_ms // 50  # the service counts ~20 audio tokens per second
        return {
            "total_tokens": input_text + output_text + output_audio,
            "input_tokens": input_text,
            "output_tokens": output_text + output_audio,
            "input_token_details": {"text_tokens": input_text, "audio_tokens": 0, "cached_tokens": 0},
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }


def item_doc(item: Item, status: str = "completed") -> dict[str, Any]:
    """The item as the service's events carry it."""
    return {
        "id": item.id,
        "object": "realtime.item",
        "type": "message",
        "role": item.role,
        "status": status,
        "content": [dict(part) for part in item.content],
    }
