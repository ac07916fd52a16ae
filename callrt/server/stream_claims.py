"""Which media streams may serve a call: a genuine stream token for the stream's CallSid, caller
line and business, and the first stream of that CallSid in the whole deployment.

The token is checked without the database (an HMAC, callrt.telephony.webhook). That it was not
used before is the database's to say (`Store.claim_stream`: a unique key on the CallSid, shared by
every worker and every server on it). While the database is unreachable this process remembers
the tokens it accepted, and the call goes ahead: the token still lives only `ttl_s`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio

from callrt.telephony.media import StreamStart
from callrt.telephony.webhook import StreamTokens
from store import StoreUnavailable

if TYPE_CHECKING:
    from store import Store

logger = logging.getLogger("callrt.server.stream_claims")


class StreamClaims:
    def __init__(
        self, tokens: StreamTokens, store: Store, limiter: trio.CapacityLimiter, wall_clock: Callable[[], float]
    ) -> None:
        self.tokens = tokens
        self.store = store
        self.limiter = limiter
        self._wall_clock = wall_clock
        self._claimed_here: dict[str, int] = {}
        """Tokens this process accepted while the database was unreachable (token -> expiry)."""

    def genuine(self, start: StreamStart) -> bool:
        """Issued by a webhook we answered, for this CallSid, caller line and business, and still fresh."""
        params = start.custom_parameters
        subject = token_subject(start.call_sid, chosen_business(start))
        return self.tokens.expiry(subject, params.get("token"), caller=params.get("caller", "")) is not None

    async def claim(self, start: StreamStart) -> bool:
        """True for the first stream of a genuine token's CallSid; call only after `genuine`."""
        token = start.custom_parameters["token"]
        expiry = int(token.partition(".")[0])
        now = self._wall_clock()
        self._claimed_here = {used: until for used, until in self._claimed_here.items() if until >= now}
        if token in self._claimed_here:
            return False
        expires_at = dt.datetime.fromtimestamp(expiry, dt.UTC)
        claim = functools.partial(self.store.claim_stream, start.call_sid, token, expires_at=expires_at)
        try:
            return await trio.to_thread.run_sync(claim, limiter=self.limiter)
        except StoreUnavailable as exc:
            logger.warning("stream token remembered by this process only (database unreachable: %s)", exc)
            self._claimed_here[token] = expiry
            return True


def chosen_business(start: StreamStart) -> int | None:
    """The `business` stream parameter the webhook set, if any (its id is covered by the token)."""
    chosen = start.custom_parameters.get("business", "")
    return int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 12 else None


def token_subject(call_sid: str, business_id: int | None) -> str:
    """What a stream token is issued for: the call, and the business the webhook routed it to."""
    return call_sid if business_id is None else f"{call_sid}|{business_id}"
